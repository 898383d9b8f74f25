#include "thing/tsl.hpp"

#include <algorithm>

namespace thingport::thing {

bool valid_identifier(std::string_view id) noexcept {
  if (id.empty() || id.size() > max_identifier_length) {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool reserved_identifier(std::string_view id) noexcept {
  return std::find(std::begin(reserved_identifiers), std::end(reserved_identifiers), id) !=
         std::end(reserved_identifiers);
}

std::string_view to_string(data_type t) noexcept {
  switch (t) {
  case data_type::int32:
    return "int";
  case data_type::float32:
    return "float";
  case data_type::float64:
    return "double";
  case data_type::text:
    return "text";
  case data_type::date:
    return "date";
  case data_type::boolean:
    return "bool";
  case data_type::enumeration:
    return "enum";
  case data_type::structure:
    return "struct";
  case data_type::array:
    return "array";
  }
  return "unknown";
}

std::string_view to_string(event_type t) noexcept {
  switch (t) {
  case event_type::info:
    return "info";
  case event_type::alert:
    return "alert";
  case event_type::error:
    return "error";
  }
  return "info";
}

namespace {

template <typename T>
const T* find_in(const std::vector<T>& items,
                 const std::map<std::string, std::size_t, std::less<>>& index,
                 std::string_view id) noexcept {
  const auto it = index.find(id);
  return it == index.end() ? nullptr : &items[it->second];
}

} // namespace

const property* thing_model::find_property(std::string_view id) const noexcept {
  return find_in(properties_, property_index_, id);
}

const event* thing_model::find_event(std::string_view id) const noexcept {
  return find_in(events_, event_index_, id);
}

const service* thing_model::find_service(std::string_view id) const noexcept {
  return find_in(services_, service_index_, id);
}

} // namespace thingport::thing
