#include "thing/downlink.hpp"

#include <boost/json/object.hpp>

#include <algorithm>

#include "thing/alink.hpp"
#include "thing/code.hpp"
#include "thing/topic.hpp"
#include "thing/value_check.hpp"

namespace thingport::thing {

namespace json = boost::json;

namespace {

constexpr std::size_t max_items = 200;

downlink_result refuse(code c, std::string message) {
  return {.ec = make_error_code(c), .message = std::move(message), .value = {}};
}

downlink_result refuse(check_result&& r) {
  return {.ec = r.ec, .message = std::move(r.message), .value = {}};
}

// A JSON object of 1..max_items entries with identifier keys; the refusal otherwise.
std::optional<downlink_result> check_object(const json::value& v, std::string_view what) {
  const json::object* obj = v.if_object();
  if (obj == nullptr || obj->empty() || obj->size() > max_items) {
    return refuse(code::bad_params,
                  std::string(what) + " must be a JSON object of 1 to 200 entries");
  }
  for (const auto& kv : *obj) {
    if (!valid_identifier(std::string_view(kv.key().data(), kv.key().size()))) {
      return refuse(code::bad_params, "identifiers must be 1 to 50 characters of A-Z a-z 0-9 _");
    }
  }
  return std::nullopt;
}

} // namespace

bool valid_request_id(std::string_view id) noexcept {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c == '-';
  });
}

downlink_result property_set(const thing_model* model, device_id device, std::string_view id,
                             const json::value& items) {
  if (!valid_request_id(id)) {
    return refuse(code::bad_params, "bad request id");
  }
  if (auto r = check_object(items, "items")) {
    return std::move(*r);
  }
  json::object params;
  for (const auto& kv : items.get_object()) {
    const std::string_view key(kv.key().data(), kv.key().size());
    if (model == nullptr) {
      params.emplace(kv.key(), kv.value());
      continue;
    }
    const property* p = model->find_property(key);
    if (p == nullptr) {
      return refuse(code::not_defined, "tsl parse: property not exist -> " + std::string(key));
    }
    if (p->access == access_mode::read_only) {
      return refuse(code::bad_params, "property is read-only -> " + std::string(key));
    }
    check_result r = check_value(p->spec, kv.value(), key);
    if (!r) {
      return refuse(std::move(r));
    }
    params.emplace(kv.key(), std::move(r.value));
  }
  const std::string method = "thing.service.property.set";
  return {.ec = {},
          .message = {},
          .value = {.topic = property_set_topic(device.product_key, device.device_name),
                    .payload = make_request(id, method, params),
                    .method = method,
                    .sync = false}};
}

downlink_result service_call(const thing_model* model, device_id device, std::string_view id,
                             std::string_view service_id, const json::value& input, bool ext_rrpc) {
  if (!valid_request_id(id)) {
    return refuse(code::bad_params, "bad request id");
  }
  if (!valid_identifier(service_id) || reserved_identifier(service_id)) {
    return refuse(code::bad_params, "bad service identifier");
  }
  const service* s = model == nullptr ? nullptr : model->find_service(service_id);
  if (model != nullptr && s == nullptr) {
    return refuse(code::not_defined, "tsl parse: service not exist -> " + std::string(service_id));
  }
  // A service may take no input: {} is fine here.
  const json::object* obj = input.if_object();
  if (obj == nullptr || obj->size() > max_items) {
    return refuse(code::bad_params, "input must be a JSON object of at most 200 entries");
  }
  json::object params;
  for (const auto& kv : *obj) {
    const std::string_view key(kv.key().data(), kv.key().size());
    if (s == nullptr) {
      params.emplace(kv.key(), kv.value());
      continue;
    }
    const auto p = std::find_if(s->input.begin(), s->input.end(),
                                [&](const param& x) { return x.identifier == key; });
    if (p == s->input.end()) {
      return refuse(code::param_not_in_model,
                    "tsl parse: params not exist -> " + std::string(clip_utf8(key, 64)));
    }
    check_result r = check_value(p->spec, kv.value(), key);
    if (!r) {
      return refuse(std::move(r));
    }
    params.emplace(kv.key(), std::move(r.value));
  }
  const std::string method = "thing.service." + std::string(service_id);
  const bool sync = s != nullptr && s->call == call_type::sync;
  return {.ec = {},
          .message = {},
          .value = {.topic = !sync
                                 ? service_topic(device.product_key, device.device_name, service_id)
                             : ext_rrpc
                                 ? ext_rrpc_topic(id, service_topic(device.product_key,
                                                                    device.device_name, service_id))
                                 : rrpc_request_topic(device.product_key, device.device_name, id),
                    .payload = make_request(id, method, params),
                    .method = method,
                    .sync = sync}};
}

downlink_result property_get(const thing_model* model, device_id device, std::string_view id,
                             const std::vector<std::string>& identifiers, bool ext_rrpc) {
  if (!valid_request_id(id)) {
    return refuse(code::bad_params, "bad request id");
  }
  if (identifiers.empty() || identifiers.size() > max_items) {
    return refuse(code::bad_params, "ask for 1 to 200 properties");
  }
  json::array params;
  for (const auto& p : identifiers) {
    if (!valid_identifier(p)) {
      return refuse(code::bad_params, "bad property identifier");
    }
    if (model != nullptr && model->find_property(p) == nullptr) {
      return refuse(code::not_defined,
                    "tsl parse: property not exist -> " + std::string(clip_utf8(p, 64)));
    }
    params.emplace_back(p);
  }
  constexpr std::string_view method = "thing.service.property.get";
  return {
      .ec = {},
      .message = {},
      .value = {.topic = ext_rrpc
                             ? ext_rrpc_topic(id, service_topic(device.product_key,
                                                                device.device_name, "property/get"))
                             : rrpc_request_topic(device.product_key, device.device_name, id),
                .payload = make_request(id, method, params),
                .method = std::string(method),
                .sync = true}};
}

downlink_result rrpc_request(device_id device, std::string_view msg_id, std::string_view payload) {
  if (!valid_request_id(msg_id)) {
    return refuse(code::bad_params, "bad message id");
  }
  return {.ec = {},
          .message = {},
          .value = {.topic = rrpc_request_topic(device.product_key, device.device_name, msg_id),
                    .payload = std::string(payload),
                    .method = {},
                    .sync = true}};
}

downlink_result ext_rrpc_request(device_id device, std::string_view msg_id, std::string_view topic,
                                 std::string_view payload) {
  if (!valid_request_id(msg_id)) {
    return refuse(code::bad_params, "bad message id");
  }
  const std::string own =
      "/" + std::string(device.product_key) + "/" + std::string(device.device_name) + "/";
  if (!topic.starts_with(own) || topic.size() == own.size() || topic.size() > 128 ||
      topic.find_first_of(std::string_view("+#\0", 3)) != std::string_view::npos) {
    return refuse(code::bad_params,
                  "the topic must be one of the device's own, at most 128 bytes, without + # NUL");
  }
  return {.ec = {},
          .message = {},
          .value = {.topic = ext_rrpc_topic(msg_id, topic),
                    .payload = std::string(payload),
                    .method = {},
                    .sync = true}};
}

} // namespace thingport::thing
