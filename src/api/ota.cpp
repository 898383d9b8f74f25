// OTA (docs/http-api.md "OTA"): the firmware versions devices report on /ota/device/inform, per
// device and counted per product.
#include <boost/json.hpp>

#include "api/errors.hpp"
#include "api/query.hpp"
#include "api/routes.hpp"
#include "api/thing_view.hpp"

namespace thingport::api {

namespace json = boost::json;

namespace {

response device_versions(context& ctx, const call& c) {
  const auto &pk = c.params[0], &dn = c.params[1];
  if (auto p = missing_device(ctx, pk, dn))
    return error_response(*p);
  auto modules = ctx.thing->store().firmware(pk, dn);
  if (!modules)
    return error_response(thing_problem(modules.error(), device_subject(pk, dn)));
  json::array out;
  out.reserve(modules->size());
  for (const auto& m : *modules)
    out.push_back(json::object{
        {"module", m.module}, {"version", m.version}, {"reportedAt", millis(m.reported)}});
  return json_response(
      http::status::ok,
      json::object{{"productKey", pk}, {"deviceName", dn}, {"modules", std::move(out)}});
}

response product_versions(context& ctx, const call& c) {
  const auto& pk = c.params[0];
  if (ctx.thing == nullptr)
    return error_response(http::status::service_unavailable, "the thing layer is not running");
  if (ctx.dir.permissions(pk) == nullptr)
    return error_response(http::status::not_found, "product " + std::string(pk) + " not found");
  auto counts = ctx.thing->store().firmware_counts(pk);
  if (!counts)
    return error_response(thing_problem(counts.error(), "product " + std::string(pk)));
  json::array out;
  out.reserve(counts->size());
  for (const auto& v : *counts)
    out.push_back(
        json::object{{"module", v.module}, {"version", v.version}, {"devices", v.devices}});
  return json_response(http::status::ok,
                       json::object{{"productKey", pk}, {"versions", std::move(out)}});
}

} // namespace

void add_ota_routes(router& r, context& ctx) {
  r.add(http::verb::get, "/api/v1/products/{pk}/devices/{dn}/ota/versions",
        bind(ctx, device_versions, path_ids::product_device));
  r.add(http::verb::get, "/api/v1/products/{pk}/ota/versions",
        bind(ctx, product_versions, path_ids::product));
  add_ota_job_routes(r, ctx);
}

} // namespace thingport::api
