#include "thing/forward.hpp"

#include <boost/json/object.hpp>

namespace thingport::thing {

namespace json = boost::json;

namespace {

json::string_view jv(std::string_view s) noexcept {
  return {s.data(), s.size()};
}

json::object envelope(const forward_context& ctx) {
  json::object o;
  o.emplace("productKey", jv(ctx.product_key));
  o.emplace("deviceName", jv(ctx.device_name));
  o.emplace("requestId", jv(ctx.request_id));
  o.emplace("gmtCreate", to_ms(ctx.now));
  return o;
}

json::object item(const json::value& value, time_point t) {
  json::object o;
  o.emplace("value", value);
  o.emplace("time", to_ms(t));
  return o;
}

json::object failed(const failed_item& f) {
  json::object o = item(f.value, f.time);
  o.emplace("code", f.code);
  o.emplace("message", jv(f.message));
  return o;
}

// Every value of an identifier under its key: one object each, or an array of them.
template <typename List, typename Make>
json::object by_identifier(const List& list, bool arrays, Make&& make) {
  json::object out;
  for (const auto& x : list) {
    const json::string_view key = jv(x.identifier);
    if (!arrays) {
      out[key] = make(x);
      continue;
    }
    json::value& slot = out[key];
    if (!slot.is_array()) {
      slot = json::array();
    }
    slot.get_array().push_back(make(x));
  }
  return out;
}

std::string properties(const forward_context& ctx, const post_result& r, bool arrays) {
  json::object o = envelope(ctx);
  o.emplace("items", by_identifier(r.properties, arrays,
                                   [](const property_item& p) { return item(p.value, p.time); }));
  o.emplace("checkFailedData", by_identifier(r.failed, arrays, failed));
  return to_json(o);
}

} // namespace

std::string property_post_forward(const forward_context& ctx, const post_result& r) {
  return properties(ctx, r, false);
}

std::string property_batch_forward(const forward_context& ctx, const post_result& r) {
  return properties(ctx, r, true);
}

std::string event_forward(const forward_context& ctx, const event_item& e) {
  json::object o;
  o.emplace("identifier", jv(e.identifier));
  o.emplace("name", jv(e.name));
  o.emplace("type", jv(e.type));
  o.emplace("time", to_ms(e.time));
  o.emplace("value", e.output);
  for (auto& kv : envelope(ctx)) {
    o.emplace(kv.key(), std::move(kv.value()));
  }
  o.emplace("checkFailedData", by_identifier(e.failed, false, failed));
  return to_json(o);
}

} // namespace thingport::thing
