// Downlinks to a device (docs/http-api.md, docs/protocol.md "Alink messages", "The cloud side"):
// property set, service invocation (async: answered at once with the request id; sync: over RRPC,
// answered with the device's reply), RRPC, and the downlink records with the device's replies.
//
// A call that waits for the device does not hold up the API's thread: the handler records the
// request, registers a waiter with the thing layer, publishes, and defers its answer
// (later.hpp). The device's reply comes through the waiter (the thing thread posts it here);
// the timeout (1..8 s) answers 504 and records TIMEOUT. A device that is not connected gets no
// request: 409 and OFFLINE at once.
#include <boost/json.hpp>

#include "api/errors.hpp"
#include "api/json_body.hpp"
#include "api/later.hpp"
#include "api/listing.hpp"
#include "api/query.hpp"
#include "api/routes.hpp"
#include "api/thing_view.hpp"
#include "auth/base64.hpp"
#include "thing/code.hpp"
#include "thing/downlink.hpp"

namespace thingport::api {

namespace json = boost::json;

namespace {

constexpr std::int64_t min_timeout_ms = 1000, max_timeout_ms = 8000, default_timeout_ms = 5000;

// The fields of a downlink that identify it, copied into the callbacks that outlive the call.
struct target {
  std::string pk, dn, id;
};

// A fresh request id: the broker's message ids are unique on this node.
std::string new_id(context& ctx) {
  return std::to_string(ctx.platform.next_message_id());
}

std::optional<problem> record(context& ctx, const target& t, const thing::downlink& d,
                              store::downlink_type type, std::string_view identifier,
                              store::downlink_outcome outcome = store::downlink_outcome::pending) {
  store::downlink_record rec{.id = t.id,
                             .type = type,
                             .identifier = std::string(identifier),
                             .request = d.payload,
                             .sent = store::now(),
                             .outcome = outcome};
  if (outcome != store::downlink_outcome::pending)
    rec.completed = rec.sent;
  if (auto r = ctx.thing->store().record_downlink(t.pk, t.dn, rec); !r)
    return thing_problem(r.error(), device_subject(t.pk, t.dn));
  return std::nullopt;
}

// The thing layer refused to build the downlink: 404 for what the model does not define, else
// 400; the Alink code is in the message.
response refused(const thing::downlink_result& d) {
  const auto status =
      d.ec == thing::code::not_defined ? http::status::not_found : http::status::bad_request;
  return error_response(status, d.message + " (" + std::to_string(thing::to_int(d.ec)) + ")");
}

response outcome_response(http::status s, const target& t, std::string_view outcome,
                          std::string message) {
  return json_response(s, json::object{{"code", static_cast<int>(s)},
                                       {"message", std::move(message)},
                                       {"id", t.id},
                                       {"rrpcCode", outcome}});
}

using render_fn = std::function<response(const platform::downlink_reply&)>;

// Sends `d` and answers later with render(the device's reply), or 504 after `timeout`.
response call_device(context& ctx, const call& c, const target& t, const thing::downlink& d,
                     store::downlink_type type, std::string_view identifier,
                     std::chrono::milliseconds timeout, render_fn render) {
  if (!c.later)
    return error_response(http::status::internal_server_error, "cannot wait for the device");
  if (!ctx.dir.online(t.pk, t.dn)) {
    if (auto p = record(ctx, t, d, type, identifier, store::downlink_outcome::offline))
      return error_response(*p);
    return outcome_response(http::status::conflict, t, "OFFLINE",
                            device_subject(t.pk, t.dn) + " is not connected");
  }
  if (auto p = record(ctx, t, d, type, identifier))
    return error_response(*p);
  auto* thing = ctx.thing;
  thing->await_reply(t.pk, t.dn, t.id,
                     [answer = c.later->answerer(), render](const platform::downlink_reply& r) {
                       answer(render(r));
                     });
  thing->send(t.pk, t.dn, d.topic, d.payload, 0);
  const auto on_timeout = [thing, t, render]() -> std::optional<response> {
    if (!thing->forget(t.pk, t.dn, t.id))
      return std::nullopt; // the reply came first and is on its way here
    auto& st = thing->store();
    auto done = st.complete_downlink(t.pk, t.dn, t.id, store::downlink_outcome::timeout, {}, {},
                                     store::now());
    if (!done) {
      // Completed meanwhile (the reply was stored before the waiter was taken): answer it.
      auto rec = st.get_downlink(t.pk, t.dn, t.id);
      if (rec && rec->outcome == store::downlink_outcome::success)
        return render({rec->reply_code.value_or(200), rec->reply.value_or("")});
    }
    return outcome_response(http::status::gateway_timeout, t, "TIMEOUT",
                            "the device did not answer in time");
  };
  c.later->defer(timeout, on_timeout, [thing, t] { thing->forget(t.pk, t.dn, t.id); });
  return error_response(http::status::internal_server_error, "deferred"); // not sent
}

std::optional<std::chrono::milliseconds> timeout_of(json_body& b) {
  const auto ms = b.integer("timeoutMs").value_or(default_timeout_ms);
  if (ms < min_timeout_ms || ms > max_timeout_ms) {
    b.fail("timeoutMs must be 1000 to 8000");
    return std::nullopt;
  }
  return std::chrono::milliseconds(ms);
}

// POST .../properties {"items":{"LightSwitch":1}}: 200 with the request id once sent (the
// device's set_reply completes the downlink record); 409 OFFLINE when the device is not connected.
response set_properties(context& ctx, const call& c) {
  target t{c.params[0], c.params[1], new_id(ctx)};
  if (auto p = missing_device(ctx, t.pk, t.dn))
    return error_response(*p);
  auto b = json_body::parse(c.req.body(), {"items"});
  auto items = b.object("items", true);
  if (b.error())
    return error_response(*b.error());
  const auto model = ctx.thing->model(t.pk);
  auto d = thing::property_set(model.get(), {t.pk, t.dn}, t.id, json::value(std::move(*items)));
  if (!d)
    return refused(d);
  if (!ctx.dir.online(t.pk, t.dn)) {
    // As RRPC does: refused now and recorded OFFLINE, rather than PENDING for ever.
    if (auto p = record(ctx, t, d.value, store::downlink_type::property_set, {},
                        store::downlink_outcome::offline))
      return error_response(*p);
    return outcome_response(http::status::conflict, t, "OFFLINE",
                            device_subject(t.pk, t.dn) + " is not connected");
  }
  if (auto p = record(ctx, t, d.value, store::downlink_type::property_set, {}))
    return error_response(*p);
  ctx.thing->send(t.pk, t.dn, d.value.topic, d.value.payload, 1);
  return json_response(http::status::ok, json::object{{"id", t.id}, {"topic", d.value.topic}});
}

// A device's Alink reply that came over RRPC ({"id","code","data"}), as the API answers it:
// `o` plus "code" (the reply's, else the RRPC code) and "data" (the reply's, else {} — or the
// raw text when it is not an object).
json::object with_alink_reply(json::object o, const platform::downlink_reply& r) {
  auto v = json_of(r.reply);
  const auto* obj = v.if_object();
  const auto* code = obj != nullptr ? obj->if_contains("code") : nullptr;
  o["code"] = code != nullptr && code->is_number() ? *code : json::value(r.code);
  const auto* data = obj != nullptr ? obj->if_contains("data") : nullptr;
  o["data"] = data != nullptr ? *data : (obj != nullptr ? json::value(json::object{}) : v);
  return o;
}

// A sync service's answer.
response sync_service_answer(const target& t, const std::string& service,
                             const platform::downlink_reply& r) {
  return json_response(
      http::status::ok,
      with_alink_reply(json::object{{"id", t.id}, {"identifier", service}, {"callType", "sync"}},
                       r));
}

// POST .../properties/get {"identifiers":["a","b"],"timeoutMs":5000}: asks the device for the
// current values (thing.service.property.get, synchronously over RRPC) and answers with its
// get_reply: {"id","code","data":{identifier:value}}; 504 TIMEOUT, 409 OFFLINE as RRPC.
response get_properties_now(context& ctx, const call& c) {
  target t{c.params[0], c.params[1], new_id(ctx)};
  if (auto p = missing_device(ctx, t.pk, t.dn))
    return error_response(*p);
  auto b = json_body::parse(c.req.body(), {"identifiers", "timeoutMs"});
  const auto ids = b.strings("identifiers", 200, true);
  const auto timeout = timeout_of(b);
  if (b.error())
    return error_response(*b.error());
  const auto model = ctx.thing->model(t.pk);
  const auto on = ctx.dir.online(t.pk, t.dn);
  auto d = thing::property_get(model.get(), {t.pk, t.dn}, t.id, *ids, on && on->ext_rrpc);
  if (!d)
    return refused(d);
  return call_device(
      ctx, c, t, d.value, store::downlink_type::service, "property_get", *timeout,
      [t](const platform::downlink_reply& r) {
        return json_response(http::status::ok, with_alink_reply(json::object{{"id", t.id}}, r));
      });
}

// POST .../services/{identifier} {"input":{..},"timeoutMs":5000}
response invoke_service(context& ctx, const call& c) {
  target t{c.params[0], c.params[1], new_id(ctx)};
  const std::string service = c.params[2];
  if (auto p = missing_device(ctx, t.pk, t.dn))
    return error_response(*p);
  auto b = json_body::parse(c.req.body(), {"input", "timeoutMs"});
  auto input = b.object("input").value_or(json::object{});
  const auto timeout = timeout_of(b);
  if (b.error())
    return error_response(*b.error());
  const auto model = ctx.thing->model(t.pk);
  const auto on = ctx.dir.online(t.pk, t.dn);
  auto d = thing::service_call(model.get(), {t.pk, t.dn}, t.id, service, json::value(input),
                               on && on->ext_rrpc);
  if (!d)
    return refused(d);
  if (d.value.sync) {
    return call_device(ctx, c, t, d.value, store::downlink_type::service, service, *timeout,
                       [t, service](const platform::downlink_reply& r) {
                         return sync_service_answer(t, service, r);
                       });
  }
  if (auto p = record(ctx, t, d.value, store::downlink_type::service, service))
    return error_response(*p);
  ctx.thing->send(t.pk, t.dn, d.value.topic, d.value.payload, 1);
  return json_response(http::status::ok, json::object{{"id", t.id},
                                                      {"identifier", service},
                                                      {"callType", "async"},
                                                      {"topic", d.value.topic}});
}

// POST .../rrpc {"payload"(base64),"timeoutMs":5000,"topic"?}: with "topic" (one of the
// device's own, /{pk}/{dn}/...), the request goes on /ext/rrpc/{id}{topic} for devices that
// connected with ext=1.
response rrpc(context& ctx, const call& c) {
  target t{c.params[0], c.params[1], new_id(ctx)};
  if (auto p = missing_device(ctx, t.pk, t.dn))
    return error_response(*p);
  auto b = json_body::parse(c.req.body(), {"payload", "timeoutMs", "topic"});
  const auto payload64 = b.string("payload", true);
  const auto topic = b.string("topic");
  const auto timeout = timeout_of(b);
  if (b.error())
    return error_response(*b.error());
  const auto payload = auth::base64_decode(*payload64);
  if (!payload)
    return error_response(http::status::bad_request, "payload must be base64");
  if (payload->size() > ctx.platform.limits().max_payload)
    return error_response(http::status::payload_too_large, "payload over the MQTT payload limit");
  auto d = topic ? thing::ext_rrpc_request({t.pk, t.dn}, t.id, *topic, *payload)
                 : thing::rrpc_request({t.pk, t.dn}, t.id, *payload);
  if (!d)
    return refused(d);
  // A raw RRPC has no identifier (the topic is not one: it goes in the request only).
  return call_device(ctx, c, t, d.value, store::downlink_type::rrpc, "", *timeout,
                     [t](const platform::downlink_reply& r) {
                       return json_response(
                           http::status::ok,
                           json::object{{"id", t.id},
                                        {"rrpcCode", "SUCCESS"},
                                        {"payload", auth::base64_encode(r.reply)}});
                     });
}

response list_downlinks(context& ctx, const call& c) {
  const auto &pk = c.params[0], &dn = c.params[1];
  if (auto p = missing_device(ctx, pk, dn))
    return error_response(*p);
  auto& st = ctx.thing->store();
  return paged_list(
      c, "downlinks", [&](store::page pg) { return st.downlinks(pk, dn, pg); }, downlink_json);
}

response get_downlink(context& ctx, const call& c) {
  const auto &pk = c.params[0], &dn = c.params[1], &id = c.params[2];
  if (auto p = missing_device(ctx, pk, dn))
    return error_response(*p);
  if (!thing::valid_request_id(id))
    return error_response(http::status::not_found, "downlink " + id + " not found");
  auto d = ctx.thing->store().get_downlink(pk, dn, id);
  if (!d)
    return error_response(store_problem(d.error(), "downlink " + id));
  return json_response(http::status::ok, downlink_json(*d));
}

} // namespace

void add_thing_call_routes(router& r, context& ctx) {
  constexpr auto dev = path_ids::product_device;
  const std::string base = "/api/v1/products/{pk}/devices/{dn}";
  r.add(http::verb::post, base + "/properties", bind(ctx, set_properties, dev));
  r.add(http::verb::post, base + "/properties/get", bind(ctx, get_properties_now, dev));
  r.add(http::verb::post, base + "/services/{identifier}", bind(ctx, invoke_service, dev));
  r.add(http::verb::post, base + "/rrpc", bind(ctx, rrpc, dev));
  r.add(http::verb::get, base + "/downlinks", bind(ctx, list_downlinks, dev));
  r.add(http::verb::get, base + "/downlinks/{id}", bind(ctx, get_downlink, dev));
}

} // namespace thingport::api
