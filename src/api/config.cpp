// Remote configuration (docs/http-api.md "Remote configuration"): a product's configuration
// files (the raw body, at most 64 KiB), their list, one of them, and their push to the
// product's devices with the devices' replies. Devices download them through the signed links of
// ota_transfer.hpp.
#include <boost/json.hpp>

#include "api/errors.hpp"
#include "api/json_body.hpp"
#include "api/routes.hpp"

namespace thingport::api {

namespace json = boost::json;

namespace {

platform::config_service* config_of(context& ctx) {
  return ctx.ota == nullptr ? nullptr : ctx.ota->config();
}

std::optional<problem> no_config(context& ctx, std::string_view pk) {
  if (config_of(ctx) == nullptr)
    return problem{http::status::service_unavailable, "remote configuration is not running"};
  if (ctx.dir.permissions(pk) == nullptr)
    return problem{http::status::not_found, "product " + std::string(pk) + " not found"};
  return std::nullopt;
}

json::object config_json(const platform::config_record& c) {
  return json::object{{"configId", c.id},   {"productKey", c.product_key}, {"size", c.size},
                      {"sign", c.sha256},   {"signMethod", "Sha256"},      {"md5", c.md5},
                      {"sha256", c.sha256}, {"createdAt", c.created_ms}};
}

json::object push_json(const platform::push_view& p) {
  std::size_t counts[4] = {0, 0, 0, 0};
  json::object codes;
  json::array devices;
  devices.reserve(p.devices.size());
  for (const auto& d : p.devices) {
    ++counts[static_cast<std::size_t>(d.state)];
    json::object o{{"deviceName", d.device_name}, {"state", platform::to_string(d.state)}};
    if (d.state == platform::push_device_state::replied) {
      o["code"] = d.code;
      auto& n = codes[std::to_string(d.code)];
      n = (n.is_int64() ? n.as_int64() : 0) + 1;
    }
    if (d.at_ms != 0)
      o["at"] = d.at_ms;
    devices.push_back(std::move(o));
  }
  return json::object{{"configId", p.config_id},
                      {"state", p.running ? "running" : "done"},
                      {"ratePerMinute", p.rate_per_minute},
                      {"startedAt", p.started_ms},
                      {"counts", json::object{{"waiting", counts[0]},
                                              {"sent", counts[1]},
                                              {"offline", counts[2]},
                                              {"replied", counts[3]}}},
                      {"replyCodes", std::move(codes)},
                      {"devices", std::move(devices)}};
}

response add_config(context& ctx, const call& c) {
  const auto& pk = c.params[0];
  if (auto p = no_config(ctx, pk))
    return error_response(*p);
  auto r = config_of(ctx)->add(pk, c.req.body());
  if (!r.rec)
    return error_response(static_cast<http::status>(r.status), r.message);
  return json_response(http::status::created, config_json(*r.rec));
}

response list_configs(context& ctx, const call& c) {
  const auto& pk = c.params[0];
  if (auto p = no_config(ctx, pk))
    return error_response(*p);
  json::array out;
  for (const auto& r : config_of(ctx)->list(pk))
    out.push_back(config_json(r));
  return json_response(http::status::ok, json::object{{"configs", std::move(out)}});
}

response get_config(context& ctx, const call& c) {
  const auto &pk = c.params[0], &id = c.params[1];
  if (auto p = no_config(ctx, pk))
    return error_response(*p);
  auto r = config_of(ctx)->find(pk, id);
  if (!r)
    return error_response(http::status::not_found, "configuration " + id + " not found");
  return json_response(http::status::ok, config_json(*r));
}

response delete_config(context& ctx, const call& c) {
  const auto &pk = c.params[0], &id = c.params[1];
  if (auto p = no_config(ctx, pk))
    return error_response(*p);
  if (!config_of(ctx)->remove(pk, id))
    return error_response(http::status::not_found, "configuration " + id + " not found");
  return json_response(http::status::ok, json::object{{"configId", id}, {"deleted", true}});
}

response start_push(context& ctx, const call& c) {
  const auto &pk = c.params[0], &id = c.params[1];
  if (auto p = no_config(ctx, pk))
    return error_response(*p);
  auto body = json_body::parse(c.req.body().empty() ? std::string_view("{}") : c.req.body(),
                               {"ratePerMinute"});
  const auto rate = body.integer("ratePerMinute").value_or(1000);
  if (!body.error() && (rate < 1 || rate > 1'000'000))
    body.fail("ratePerMinute: 1..1000000");
  if (body.error())
    return error_response(*body.error());
  auto r = config_of(ctx)->push(pk, id, static_cast<std::uint32_t>(rate));
  if (r.status != 202)
    return error_response(static_cast<http::status>(r.status), r.message);
  return json_response(http::status::accepted,
                       json::object{{"configId", id}, {"devices", r.devices}});
}

response get_push(context& ctx, const call& c) {
  const auto &pk = c.params[0], &id = c.params[1];
  if (auto p = no_config(ctx, pk))
    return error_response(*p);
  if (!config_of(ctx)->find(pk, id))
    return error_response(http::status::not_found, "configuration " + id + " not found");
  auto v = config_of(ctx)->push_of(pk, id);
  if (!v)
    return error_response(http::status::not_found, "configuration " + id + " was not pushed");
  return json_response(http::status::ok, push_json(*v));
}

} // namespace

void add_config_routes(router& r, context& ctx) {
  r.add(http::verb::post, "/api/v1/products/{pk}/configs",
        bind(ctx, add_config, path_ids::product));
  r.add(http::verb::get, "/api/v1/products/{pk}/configs",
        bind(ctx, list_configs, path_ids::product));
  r.add(http::verb::get, "/api/v1/products/{pk}/configs/{id}",
        bind(ctx, get_config, path_ids::product));
  r.add(http::verb::delete_, "/api/v1/products/{pk}/configs/{id}",
        bind(ctx, delete_config, path_ids::product));
  r.add(http::verb::post, "/api/v1/products/{pk}/configs/{id}/push",
        bind(ctx, start_push, path_ids::product));
  r.add(http::verb::get, "/api/v1/products/{pk}/configs/{id}/push",
        bind(ctx, get_push, path_ids::product));
}

} // namespace thingport::api
