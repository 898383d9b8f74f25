#include "thing/requests.hpp"

#include <algorithm>
#include <set>

#include "thing/code.hpp"
#include "thing/tsl.hpp"

namespace thingport::thing {

namespace json = boost::json;

namespace {

std::error_code bad() {
  return make_error_code(code::bad_params);
}

std::optional<std::string> string_member(const json::value& v, std::string_view key) {
  const json::value* m = member(v, key);
  if (m == nullptr || !m->is_string()) {
    return std::nullopt;
  }
  return std::string(m->get_string().data(), m->get_string().size());
}

// The array params of deviceinfo requests: 1..max entries, each an object.
const json::array* entries(const json::value& params) {
  const json::array* arr = params.if_array();
  if (arr == nullptr || arr->empty() || arr->size() > max_attributes_per_request) {
    return nullptr;
  }
  const bool objects =
      std::all_of(arr->begin(), arr->end(), [](const json::value& v) { return v.is_object(); });
  return objects ? arr : nullptr;
}

} // namespace

bool valid_attribute_key(std::string_view key) noexcept {
  if (key.empty() || key.size() > max_attribute_key ||
      !((key[0] >= 'a' && key[0] <= 'z') || (key[0] >= 'A' && key[0] <= 'Z'))) {
    return false;
  }
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.';
  });
}

result<std::vector<attribute>> parse_deviceinfo_update(const json::value& params) {
  const json::array* arr = entries(params);
  if (arr == nullptr) {
    return bad();
  }
  std::vector<attribute> out;
  for (const json::value& e : *arr) {
    auto key = string_member(e, "attrKey");
    const json::value* value = member(e, "attrValue");
    if (!key || !valid_attribute_key(*key) || value == nullptr) {
      return bad();
    }
    std::string text;
    if (value->is_string()) {
      text.assign(value->get_string().data(), value->get_string().size());
    } else if (value->is_number()) {
      text = to_json(*value);
    } else {
      return bad();
    }
    if (text.empty() || text.size() > max_attribute_value) {
      return bad();
    }
    // The last of duplicate keys wins, as a second update would.
    const auto same =
        std::find_if(out.begin(), out.end(), [&](const attribute& a) { return a.key == *key; });
    if (same != out.end()) {
      same->value = std::move(text);
    } else {
      out.push_back({.key = std::move(*key), .value = std::move(text)});
    }
  }
  return out;
}

result<std::vector<std::string>> parse_deviceinfo_delete(const json::value& params) {
  const json::array* arr = entries(params);
  if (arr == nullptr) {
    return bad();
  }
  std::set<std::string> keys;
  for (const json::value& e : *arr) {
    auto key = string_member(e, "attrKey");
    if (!key || !valid_attribute_key(*key)) {
      return bad();
    }
    keys.insert(std::move(*key));
  }
  return std::vector<std::string>(keys.begin(), keys.end());
}

result<std::vector<std::string>> parse_desired_get(const json::value& params) {
  if (params.is_null()) {
    return std::vector<std::string>{};
  }
  const json::array* arr = params.if_array();
  if (arr == nullptr || arr->size() > 200) {
    return bad();
  }
  std::set<std::string> ids;
  for (const json::value& v : *arr) {
    if (!v.is_string()) {
      return bad();
    }
    std::string id(v.get_string().data(), v.get_string().size());
    if (!valid_identifier(id)) {
      return bad();
    }
    ids.insert(std::move(id));
  }
  return std::vector<std::string>(ids.begin(), ids.end());
}

result<std::vector<desired_delete>> parse_desired_delete(const json::value& params) {
  const json::object* obj = params.if_object();
  if (obj == nullptr || obj->empty() || obj->size() > 200) {
    return bad();
  }
  std::vector<desired_delete> out;
  for (const auto& kv : *obj) {
    desired_delete d{.identifier = std::string(kv.key().data(), kv.key().size()),
                     .version = std::nullopt};
    if (!valid_identifier(d.identifier) || !(kv.value().is_object() || kv.value().is_null())) {
      return bad();
    }
    if (const json::value* v = member(kv.value(), "version"); v != nullptr && !v->is_null()) {
      const auto n = as_int64(*v);
      if (!n || v->is_double()) {
        return bad();
      }
      d.version = *n;
    }
    out.push_back(std::move(d));
  }
  return out;
}

result<ota_version> parse_ota_inform(std::string_view payload) {
  auto doc = parse_json(payload, {.max_bytes = 4096, .max_depth = 8});
  if (!doc) {
    return doc.error();
  }
  const json::value* params = member(*doc, "params");
  if (params == nullptr) {
    return bad();
  }
  ota_version out;
  auto version = string_member(*params, "version");
  if (!version || version->empty() || version->size() > 64) {
    return bad();
  }
  out.version = std::move(*version);
  if (const json::value* m = member(*params, "module"); m != nullptr && !m->is_null()) {
    auto module = string_member(*params, "module");
    const bool ok = module && !module->empty() && module->size() <= 64 &&
                    std::all_of(module->begin(), module->end(), [](char c) {
                      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                             (c >= '0' && c <= '9') || c == '_' || c == '-';
                    });
    if (!ok) {
      return bad();
    }
    out.module = std::move(*module);
  }
  return out;
}

} // namespace thingport::thing
