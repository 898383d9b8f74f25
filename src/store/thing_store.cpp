#include "store/thing_store.hpp"

#include <algorithm>
#include <string>

#include "store/thing_validate.hpp"
#include "store/validate.hpp"

namespace thingport::store {

namespace {

class thing_category final : public std::error_category {
public:
  const char* name() const noexcept override { return "thingport.store.thing"; }
  std::string message(int ev) const override {
    switch (static_cast<thing_errc>(ev)) {
    case thing_errc::ok:
      return "ok";
    case thing_errc::bad_identifier:
      return "identifiers must be 1 to 50 characters of A-Z a-z 0-9 _";
    case thing_errc::bad_key:
      return "keys must be 1 to 100 characters of A-Z a-z 0-9 _ . starting with a letter";
    case thing_errc::bad_value:
      return "values must be 1 byte to 256 KiB of JSON text without NUL";
    case thing_errc::bad_id:
      return "ids must be 1 to 64 characters of A-Z a-z 0-9 _ -";
    case thing_errc::bad_range:
      return "from must not be after to";
    case thing_errc::too_many:
      return "too many entries in one call";
    case thing_errc::version_conflict:
      return "the shadow was changed meanwhile";
    case thing_errc::too_many_properties:
      return "the device has as many property identifiers as it may keep ([thing] max_properties)";
    }
    return "unknown thing store error";
  }
};

bool all_of(std::string_view s, bool (*ok)(char)) noexcept {
  return std::all_of(s.begin(), s.end(), ok);
}

bool alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

} // namespace

const std::error_category& thing_error_category() noexcept {
  static const thing_category c;
  return c;
}

std::string_view to_string(thing_errc e) noexcept {
  switch (e) {
  case thing_errc::ok:
    return "ok";
  case thing_errc::bad_identifier:
    return "bad_identifier";
  case thing_errc::bad_key:
    return "bad_key";
  case thing_errc::bad_value:
    return "bad_value";
  case thing_errc::bad_id:
    return "bad_id";
  case thing_errc::bad_range:
    return "bad_range";
  case thing_errc::too_many:
    return "too_many";
  case thing_errc::version_conflict:
    return "version_conflict";
  case thing_errc::too_many_properties:
    return "too_many_properties";
  }
  return "unknown";
}

std::string_view to_string(downlink_type t) noexcept {
  switch (t) {
  case downlink_type::property_set:
    return "property_set";
  case downlink_type::service:
    return "service";
  case downlink_type::rrpc:
    return "rrpc";
  }
  return "service";
}

std::string_view to_string(downlink_outcome o) noexcept {
  switch (o) {
  case downlink_outcome::pending:
    return "PENDING";
  case downlink_outcome::success:
    return "SUCCESS";
  case downlink_outcome::timeout:
    return "TIMEOUT";
  case downlink_outcome::offline:
    return "OFFLINE";
  }
  return "PENDING";
}

// ---- boundary checks ------------------------------------------------------------------------

std::error_code check_device(std::string_view product_key, std::string_view device_name) noexcept {
  if (auto ec = check_product_key(product_key)) {
    return ec;
  }
  return check_device_name(device_name);
}

std::error_code check_thing_identifier(std::string_view id) noexcept {
  const bool ok =
      !id.empty() && id.size() <= 50 && all_of(id, [](char c) { return alnum(c) || c == '_'; });
  return ok ? std::error_code{} : make_error_code(thing_errc::bad_identifier);
}

std::error_code check_thing_value(std::string_view value) noexcept {
  const bool ok = !value.empty() && value.size() <= max_thing_value_bytes &&
                  value.find('\0') == std::string_view::npos;
  return ok ? std::error_code{} : make_error_code(thing_errc::bad_value);
}

std::error_code check_attribute_key(std::string_view key) noexcept {
  const bool ok = !key.empty() && key.size() <= 100 && !(key[0] >= '0' && key[0] <= '9') &&
                  key[0] != '_' && key[0] != '.' &&
                  all_of(key, [](char c) { return alnum(c) || c == '_' || c == '.'; });
  return ok ? std::error_code{} : make_error_code(thing_errc::bad_key);
}

std::error_code check_firmware(std::string_view module, std::string_view version) noexcept {
  const bool module_ok = !module.empty() && module.size() <= 64 &&
                         all_of(module, [](char c) { return alnum(c) || c == '_' || c == '-'; });
  if (!module_ok)
    return make_error_code(thing_errc::bad_key);
  const bool version_ok =
      !version.empty() && version.size() <= 64 && version.find('\0') == std::string_view::npos;
  return version_ok ? std::error_code{} : make_error_code(thing_errc::bad_value);
}

std::error_code check_downlink_id(std::string_view id) noexcept {
  const bool ok = !id.empty() && id.size() <= 64 &&
                  all_of(id, [](char c) { return alnum(c) || c == '_' || c == '-'; });
  return ok ? std::error_code{} : make_error_code(thing_errc::bad_id);
}

std::error_code check_time_query(const time_query& q) noexcept {
  if (q.from > q.to) {
    return make_error_code(thing_errc::bad_range);
  }
  return check_page({.offset = 0, .limit = q.limit});
}

std::error_code check_batch_size(std::size_t n) noexcept {
  return n > max_thing_batch ? make_error_code(thing_errc::too_many) : std::error_code{};
}

std::error_code check_property_values(std::span<const property_value> values) noexcept {
  return check_each(values, [](const property_value& v) {
    if (auto ec = check_thing_identifier(v.identifier)) {
      return ec;
    }
    return check_thing_value(v.value);
  });
}

std::error_code check_event_records(std::span<const event_record> events) noexcept {
  return check_each(events, [](const event_record& e) {
    if (auto ec = check_thing_identifier(e.identifier)) {
      return ec;
    }
    if (e.type.size() > 16 || e.type.find('\0') != std::string::npos) {
      return make_error_code(thing_errc::bad_value);
    }
    return check_thing_value(e.output);
  });
}

} // namespace thingport::store
