#include "thing/alink.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <limits>

namespace thingport::thing {

namespace json = boost::json;

namespace {

bool usable_id(const json::value& id) noexcept {
  return id.is_string() || id.is_int64() || id.is_uint64();
}

} // namespace

request_result parse_request(std::string_view payload, std::string_view topic_method,
                             const json_limits& limits) {
  request_result out;
  out.value.method.assign(topic_method);
  auto doc = parse_json(payload, limits);
  if (!doc) {
    out.ec = doc.error();
    return out;
  }
  json::object* obj = doc->if_object();
  if (obj == nullptr) {
    out.ec = make_error_code(code::bad_params);
    return out;
  }
  request& r = out.value;
  if (json::value* id = obj->if_contains("id"); id != nullptr && usable_id(*id)) {
    r.id = std::move(*id);
  }
  if (const json::value* v = obj->if_contains("version"); v != nullptr && v->is_string()) {
    r.version.assign(v->get_string().data(), v->get_string().size());
  }
  if (const json::value* m = obj->if_contains("method");
      m != nullptr && m->is_string() && !m->get_string().empty()) {
    r.method.assign(m->get_string().data(), m->get_string().size());
  }
  if (json::value* p = obj->if_contains("params"); p != nullptr) {
    r.params = std::move(*p);
  }
  if (const json::value* sys = obj->if_contains("sys"); sys != nullptr) {
    if (const json::value* ack = member(*sys, "ack"); ack != nullptr) {
      r.ack = !(as_int64(*ack) == std::optional<std::int64_t>{0});
    }
  }
  if (r.id.is_null()) {
    out.ec = make_error_code(code::bad_params);
  } else if (r.method.empty()) {
    out.ec = make_error_code(code::method_not_found);
  }
  return out;
}

std::string make_reply(const request& req, std::error_code c, const json::value& data,
                       std::string_view message) {
  const int n = to_int(c);
  json::object reply;
  reply.reserve(6);
  reply.emplace("id", req.id);
  reply.emplace("code", n);
  reply.emplace("data", data);
  std::string_view text = message;
  if (text.empty()) {
    text = !c || c.category() == error_category() ? message_of(static_cast<code>(n))
                                                  : std::string_view("request error");
  }
  reply.emplace("message", json::string_view(text.data(), text.size()));
  reply.emplace("method", req.method);
  reply.emplace("version", req.version);
  return to_json(reply);
}

std::string make_request(std::string_view id, std::string_view method, const json::value& params) {
  json::object req;
  req.reserve(4);
  req.emplace("id", json::string_view(id.data(), id.size()));
  req.emplace("version", "1.0");
  req.emplace("params", params);
  req.emplace("method", json::string_view(method.data(), method.size()));
  return to_json(req);
}

result<device_reply> parse_device_reply(std::string_view payload, const json_limits& limits) {
  auto doc = parse_json(payload, limits);
  if (!doc) {
    return doc.error();
  }
  json::object* obj = doc->if_object();
  const json::value* id = obj == nullptr ? nullptr : obj->if_contains("id");
  if (id == nullptr || !usable_id(*id)) {
    return make_error_code(code::bad_params);
  }
  device_reply out;
  out.id = id_text(*id);
  if (const json::value* c = obj->if_contains("code"); c != nullptr) {
    const auto n = as_int64(*c);
    out.code = n && *n >= std::numeric_limits<std::int32_t>::min() &&
                       *n <= std::numeric_limits<std::int32_t>::max()
                   ? static_cast<int>(*n)
                   : 0;
  }
  if (json::value* d = obj->if_contains("data"); d != nullptr) {
    out.data = std::move(*d);
  }
  if (const json::value* m = obj->if_contains("message"); m != nullptr && m->is_string()) {
    out.message.assign(m->get_string().data(), m->get_string().size());
  }
  return out;
}

std::string id_text(const json::value& id) {
  if (const json::string* s = id.if_string()) {
    return std::string(s->data(), s->size());
  }
  if (const auto* i = id.if_int64()) {
    return std::to_string(*i);
  }
  if (const auto* u = id.if_uint64()) {
    return std::to_string(*u);
  }
  return {};
}

} // namespace thingport::thing
