// The endpoints without a token: /healthz, /metrics, the console page and the devices' HTTP
// dynamic registration; and, with it, the server's own state (GET /api/v1/cluster).
#include <boost/json.hpp>

#include "api/console.hpp"
#include "api/form.hpp"
#include "api/metrics.hpp"
#include "api/routes.hpp"
#include "auth/registration.hpp"

namespace thingport::api {

namespace json = boost::json;

namespace {

response healthz(context& ctx, const call&) {
  const bool ok = !ctx.healthy || ctx.healthy();
  return json_response(ok ? http::status::ok : http::status::service_unavailable,
                       json::object{{"status", ok ? "ok" : "unavailable"}});
}

response metrics(context& ctx, const call&) {
  return text_response(http::status::ok, "text/plain; version=0.0.4; charset=utf-8",
                       render_metrics(take_snapshot(ctx)));
}

// Without [cluster] nats: this node alone, in the shape a cluster's answer has.
response cluster(context& ctx, const call&) {
  if (ctx.cluster) {
    json::array nodes;
    for (const auto& m : ctx.cluster->members())
      nodes.push_back(json::object{{"node", m.node},
                                   {"state", !m.up        ? "down"
                                             : m.draining ? "draining"
                                                          : "up"},
                                   {"connections", m.connections},
                                   {"devicesOnline", m.devices_online}});
    return json_response(http::status::ok, json::object{{"nodes", std::move(nodes)}});
  }
  json::object node{{"node", ctx.node},
                    {"state", "up"},
                    {"connections", open_connections(ctx)},
                    {"devicesOnline", ctx.dir.online_count()}};
  return json_response(http::status::ok, json::object{{"nodes", json::array{std::move(node)}}});
}

response console(context&, const call&) {
  return text_response(http::status::ok, "text/html; charset=utf-8", std::string(console_html()));
}

// docs/protocol.md "Dynamic registration": the answer is always HTTP 200 with the platform's code
// in the body, as the cloud does (devices' SDKs read "code", not the status line).
response register_device(context& ctx, const call& c) {
  namespace rc = auth::registration_code;
  const auto form = parse_form(c.req.body());
  auth::http_register_result r;
  if (!form) {
    r = {rc::bad_parameter, "invalid parameter", {}};
  } else {
    auth::http_register_request req;
    req.product_key = form_value(*form, "productKey").value_or("");
    req.device_name = form_value(*form, "deviceName").value_or("");
    req.random = form_value(*form, "random").value_or("");
    req.sign = form_value(*form, "sign").value_or("");
    req.sign_method = form_value(*form, "signMethod").value_or("");
    r = auth::check_http_registration(req, ctx.dir);
    if (r.code == rc::success) {
      return json_response(http::status::ok,
                           json::object{{"code", r.code},
                                        {"data", json::object{{"productKey", req.product_key},
                                                              {"deviceName", req.device_name},
                                                              {"deviceSecret", r.device_secret}}},
                                        {"message", "success"}});
    }
  }
  return json_response(http::status::ok, json::object{{"code", r.code}, {"message", r.message}});
}

} // namespace

void add_system_routes(router& r, context& ctx) {
  r.add(http::verb::get, "/healthz", bind(ctx, healthz));
  r.add(http::verb::get, "/metrics", bind(ctx, metrics));
  r.add(http::verb::get, "/", bind(ctx, console));
  r.add(http::verb::get, "/api/v1/cluster", bind(ctx, cluster));
  r.add(http::verb::post, "/auth/register/device", bind(ctx, register_device));
}

} // namespace thingport::api
