// POST /api/v1/pub: a message from the cloud to a device (or to every device subscribed to a
// topic of a product). {"productKey","deviceName"?,"topic","payload"(base64),"qos":0|1}
// -> 200 {"messageId"}; with qos 1, 200 comes after the session store's commit (503 if it
// failed). Only topics a device of the product may subscribe to: with deviceName,
// that device; without, any device of the product (docs/protocol.md "The cloud side").
#include <chrono>
#include <optional>

#include <boost/json.hpp>

#include "api/json_body.hpp"
#include "api/later.hpp"
#include "api/routes.hpp"
#include "auth/base64.hpp"
#include "auth/identity.hpp"
#include "mqtt/topic.hpp"

namespace thingport::api {

namespace {

response publish(context& ctx, const call& c) {
  auto b = json_body::parse(c.req.body(), {"productKey", "deviceName", "topic", "payload", "qos"});
  const auto pk = b.string("productKey", true);
  const auto dn = b.string("deviceName");
  const auto topic = b.string("topic", true);
  const auto payload64 = b.string("payload", true);
  const auto qos = b.integer("qos").value_or(0);
  if (b.error())
    return error_response(*b.error());
  if (qos != 0 && qos != 1)
    return error_response(http::status::bad_request, "qos must be 0 or 1");
  auto payload = auth::base64_decode(*payload64);
  if (!payload)
    return error_response(http::status::bad_request, "payload must be base64");
  if (payload->size() > ctx.platform.limits().max_payload)
    return error_response(http::status::payload_too_large,
                          "payload over " + std::to_string(ctx.platform.limits().max_payload) +
                              " bytes");
  if (!mqtt::valid_topic_name(*topic))
    return error_response(http::status::bad_request,
                          "topic must be a valid MQTT topic name without wildcards");
  const auto perms = auth::valid_product_key(*pk) ? ctx.dir.permissions(*pk) : nullptr;
  if (perms == nullptr)
    return error_response(http::status::not_found, "product " + *pk + " not found");
  if (dn) {
    auth::device_record rec;
    const auto found = auth::valid_device_name(*dn) ? ctx.dir.find_device(*pk, *dn, rec)
                                                    : auth::lookup_status::not_found;
    if (found == auth::lookup_status::not_found)
      return error_response(http::status::not_found, "device " + *pk + "/" + *dn + " not found");
    if (found == auth::lookup_status::unavailable)
      return error_response(http::status::service_unavailable, "the store is unavailable");
    if (!perms->device_can_subscribe(*dn, *topic))
      return error_response(http::status::bad_request,
                            "device " + *pk + "/" + *dn + " may not subscribe to " + *topic);
  } else if (!perms->any_device_can_subscribe(*topic)) {
    return error_response(http::status::bad_request,
                          "no device of product " + *pk + " may subscribe to " + *topic);
  }
  const auto id = ctx.platform.next_message_id();
  auto m = broker::make_message(*topic, *payload, static_cast<std::uint8_t>(qos), false, id);
  // With a deviceName, routed where the device's session lives (one trip to it).
  const auto send = [&](broker::message_ptr msg, std::function<void(bool)> done) {
    if (dn)
      ctx.platform.publish_to_device(*pk, *dn, std::move(msg), std::move(done));
    else
      ctx.platform.publish(std::move(msg), std::move(done));
  };
  if (qos == 0 || !c.later) {
    send(std::move(m), [](bool) {});
    return json_response(http::status::ok, boost::json::object{{"messageId", id}});
  }
  // QoS 1: 200 means stored (docs/http-api.md): answered once every persistent session that took
  // the message has it on disk (durability = "sync") and every subscriber queue that took it
  // past its bound has sent it ([limits] overload), 503 when it could not be kept.
  c.later->defer(std::chrono::seconds(10),
                 [] {
                   return std::optional<response>(
                       error_response(http::status::service_unavailable,
                                      "not confirmed in time (the session store, or a "
                                      "subscriber's full queue); it may still be delivered"));
                 },
                 {});
  send(std::move(m), [answer = c.later->answerer(), id](bool stored) {
    answer(stored ? json_response(http::status::ok, boost::json::object{{"messageId", id}})
                  : error_response(http::status::service_unavailable,
                                   "the message could not be kept for every session "
                                   "subscribed to it (session store disk full or read-only, "
                                   "or queues at offline_total_bytes)"));
  });
  return error_response(http::status::internal_server_error, "deferred"); // ignored
}

} // namespace

void add_pub_routes(router& r, context& ctx) {
  r.add(http::verb::post, "/api/v1/pub", bind(ctx, publish));
}

} // namespace thingport::api
