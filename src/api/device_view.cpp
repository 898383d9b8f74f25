#include "api/device_view.hpp"

#include "auth/identity.hpp"

#include "api/query.hpp"
#include "broker/policy.hpp"

namespace thingport::api {

namespace json = boost::json;

namespace {

// In a cluster a device may be linked to another node: the shared store's last online and
// offline writes tell (every node writes its devices' online; an offline is written by the node
// whose link closed, or by a survivor for a dead node's devices, never for a move between
// nodes). One node alone trusts only its own links: after a kill -9 the store still says
// online.
bool online_elsewhere(const context& ctx, const store::device& d) {
  return ctx.cluster != nullptr && store::login_is_newest(d);
}

store::device_status status_with(context& ctx, const store::device& d, bool connected) {
  auto st = store::status_of(d, connected || online_elsewhere(ctx, d));
  if (st == store::device_status::unactive) {
    auth::device_record rec;
    if (ctx.dir.find_device(d.product_key, d.device_name, rec) == auth::lookup_status::found &&
        rec.activated)
      st = store::device_status::offline;
  }
  return st;
}

json::value time_or_null(const std::optional<store::timestamp>& t) {
  return t ? json::value(millis(*t)) : json::value(nullptr);
}

} // namespace

store::device_status status_now(context& ctx, const store::device& d) {
  return status_with(ctx, d, ctx.dir.online(d.product_key, d.device_name).has_value());
}

json::object device_json(context& ctx, const store::device& d, bool with_secret) {
  const auto on = ctx.dir.online(d.product_key, d.device_name);
  json::object o{{"productKey", d.product_key},
                 {"deviceName", d.device_name},
                 {"iotId", auth::iot_id(d.product_key, d.device_name, millis(d.created))},
                 {"status", store::to_string(status_with(ctx, d, on.has_value()))},
                 {"enabled", d.enabled}};
  if (with_secret)
    o["deviceSecret"] = d.device_secret;
  const std::string_view ip = on ? std::string_view(on->ip) : std::string_view(d.last_ip);
  o["ip"] = broker::host_of(ip);
  o["created"] = millis(d.created);
  const auto closed = ctx.dir.last_close(d.product_key, d.device_name);
  o["lastCloseReason"] = closed ? json::value(*closed) : json::value(nullptr);
  o["firstOnline"] = time_or_null(d.first_online);
  o["lastOnline"] = time_or_null(d.last_online);
  o["lastOffline"] = time_or_null(d.last_offline);
  if (on) {
    o["clientId"] = on->client_id;
    o["transport"] = broker::to_string(on->transport);
    o["onlineSince"] = millis(on->since);
  }
  return o;
}

} // namespace thingport::api
