#include "thing/value_check.hpp"

#include <algorithm>
#include <cstdio>

#include "thing/json.hpp"

namespace thingport::thing {

namespace json = boost::json;

namespace {

std::string number_text(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

check_result accepted(json::value v) {
  return {.ec = {}, .message = {}, .value = std::move(v)};
}

check_result check_int(const data_spec& spec, const json::value& v, std::string_view name) {
  const auto n = as_int64(v);
  if (!n) {
    return check_failure(code::bad_int, "data type is not int", name);
  }
  if (*n < spec.int_min) {
    return check_failure(code::bad_int,
                         "int value is smaller than min " + std::to_string(spec.int_min), name);
  }
  if (*n > spec.int_max) {
    return check_failure(code::bad_int,
                         "int value is bigger than max " + std::to_string(spec.int_max), name);
  }
  return accepted(*n);
}

check_result check_real(const data_spec& spec, const json::value& v, std::string_view name) {
  const bool single = spec.type == data_type::float32;
  const code c = single ? code::bad_float : code::bad_double;
  const std::string type(to_string(spec.type));
  const auto d = as_double(v);
  if (!d) {
    return check_failure(c, "data type is not " + type, name);
  }
  if (*d < spec.min) {
    return check_failure(c, type + " value is smaller than min " + number_text(spec.min), name);
  }
  if (*d > spec.max) {
    return check_failure(c, type + " value is bigger than max " + number_text(spec.max), name);
  }
  return accepted(v);
}

check_result check_text(const data_spec& spec, const json::value& v, std::string_view name) {
  const json::string* s = v.if_string();
  if (s == nullptr) {
    return check_failure(code::bad_text, "data type is not string", name);
  }
  if (s->size() > spec.length) {
    return check_failure(code::bad_text,
                         "string length bigger than max length " + std::to_string(spec.length),
                         name);
  }
  return accepted(v);
}

check_result check_date(const json::value& v, std::string_view name) {
  std::optional<std::int64_t> ms;
  if (const json::string* s = v.if_string()) {
    ms = parse_int(std::string_view(s->data(), s->size()));
  } else if (v.is_int64() || v.is_uint64()) {
    ms = as_int64(v);
  }
  if (!ms || *ms < 0) {
    return check_failure(code::bad_date, "date type must be a string of long(UTC ms)", name);
  }
  return accepted(v);
}

check_result check_bool(const json::value& v, std::string_view name) {
  if (const bool* b = v.if_bool()) {
    return accepted(std::int64_t{*b ? 1 : 0});
  }
  const auto n = as_int64(v);
  if (!n || (*n != 0 && *n != 1)) {
    return check_failure(code::bad_bool, "value of bool type must be 0 or 1", name);
  }
  return accepted(*n);
}

check_result check_enum(const data_spec& spec, const json::value& v, std::string_view name) {
  const auto n = as_int64(v);
  if (!n) {
    return check_failure(code::bad_enum, "value of enum type must be int", name);
  }
  if (!std::binary_search(spec.enum_keys.begin(), spec.enum_keys.end(), *n)) {
    return check_failure(code::bad_enum, "enum value " + std::to_string(*n) + " not in specs",
                         name);
  }
  return accepted(*n);
}

check_result check_struct(const data_spec& spec, const json::value& v, std::string_view name) {
  const json::object* obj = v.if_object();
  if (obj == nullptr) {
    return check_failure(code::bad_struct, "struct type must be a json object", name);
  }
  json::object out;
  for (const auto& kv : *obj) {
    const std::string_view key(kv.key().data(), kv.key().size());
    const std::string path = std::string(name) + "." + std::string(key);
    const auto m = std::find_if(spec.members.begin(), spec.members.end(),
                                [&](const param& p) { return p.identifier == key; });
    if (m == spec.members.end()) {
      return check_failure(code::param_not_in_model, "params not exist", path);
    }
    check_result r = check_value(m->spec, kv.value(), path);
    if (!r) {
      return r;
    }
    out.emplace(kv.key(), std::move(r.value));
  }
  return accepted(std::move(out));
}

check_result check_array(const data_spec& spec, const json::value& v, std::string_view name) {
  const json::array* arr = v.if_array();
  if (arr == nullptr) {
    return check_failure(code::bad_array, "data type is not array", name);
  }
  if (arr->size() > spec.size) {
    return check_failure(code::bad_array_size,
                         "array size is bigger than max size " + std::to_string(spec.size), name);
  }
  if (spec.item.empty()) {
    return accepted(v); // not made by parse_tsl(); nothing to check the items against
  }
  json::array out;
  out.reserve(arr->size());
  for (std::size_t i = 0; i < arr->size(); ++i) {
    check_result r = check_value(spec.item.front(), (*arr)[i],
                                 std::string(name) + "[" + std::to_string(i) + "]");
    if (!r) {
      return r;
    }
    out.push_back(std::move(r.value));
  }
  return accepted(std::move(out));
}

} // namespace

check_result check_failure(code c, std::string_view what, std::string_view name) {
  std::string message = "tsl parse: ";
  message += what;
  message += " -> ";
  message += name;
  return {.ec = make_error_code(c), .message = std::move(message), .value = nullptr};
}

check_result check_value(const data_spec& spec, const json::value& v, std::string_view name) {
  switch (spec.type) {
  case data_type::int32:
    return check_int(spec, v, name);
  case data_type::float32:
  case data_type::float64:
    return check_real(spec, v, name);
  case data_type::text:
    return check_text(spec, v, name);
  case data_type::date:
    return check_date(v, name);
  case data_type::boolean:
    return check_bool(v, name);
  case data_type::enumeration:
    return check_enum(spec, v, name);
  case data_type::structure:
    return check_struct(spec, v, name);
  case data_type::array:
    return check_array(spec, v, name);
  }
  return check_failure(code::bad_params, "unknown data type", name);
}

} // namespace thingport::thing
