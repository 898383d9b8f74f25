// Devices: create (one or a batch), list with status, show, enable/disable, delete.
#include <boost/json.hpp>

#include "api/device_batch.hpp"
#include "api/device_view.hpp"
#include "api/errors.hpp"
#include "api/json_body.hpp"
#include "api/query.hpp"
#include "api/routes.hpp"
#include "auth/identity.hpp"

namespace thingport::api {

namespace json = boost::json;

namespace {

std::string product_subject(std::string_view pk) {
  return "product " + std::string(pk);
}
std::string device_subject(std::string_view pk, std::string_view dn) {
  return "device " + std::string(pk) + "/" + std::string(dn);
}

// not_found from a device operation: the product or the device is missing; say which.
problem device_problem(context& ctx, const std::error_code& ec, std::string_view pk,
                       std::string_view dn) {
  if (ec == store::errc::not_found && ctx.dir.permissions(pk) == nullptr)
    return store_problem(ec, product_subject(pk));
  return store_problem(ec, device_subject(pk, dn));
}

response create_device(context& ctx, const call& c) {
  const auto& pk = c.params[0];
  auto b = json_body::parse(c.req.body(), {"deviceName", "deviceSecret"});
  store::new_device spec;
  spec.device_name = b.string("deviceName").value_or("");
  spec.device_secret = b.string("deviceSecret").value_or("");
  if (b.error())
    return error_response(*b.error());
  auto d = ctx.dir.create_device(pk, spec);
  if (!d) {
    return error_response(store_problem(d.error(), d.error() == store::errc::not_found
                                                       ? product_subject(pk)
                                                       : device_subject(pk, spec.device_name)));
  }
  return json_response(http::status::created, json::object{{"productKey", d->product_key},
                                                           {"deviceName", d->device_name},
                                                           {"deviceSecret", d->device_secret}});
}

std::optional<store::device_status> parse_status(std::string_view s) {
  using st = store::device_status;
  for (auto v : {st::online, st::offline, st::unactive, st::disable})
    if (store::to_string(v) == s)
      return v;
  return std::nullopt;
}

response list_devices(context& ctx, const call& c) {
  const auto& pk = c.params[0];
  const auto pg = page_of(c.query);
  if (const auto* bad = std::get_if<problem>(&pg))
    return error_response(*bad);
  const auto page = std::get<store::page>(pg);
  std::optional<store::device_status> want;
  if (auto s = form_value(c.query, "status")) {
    want = parse_status(*s);
    if (!want)
      return error_response(http::status::bad_request,
                            "status must be ONLINE, OFFLINE, UNACTIVE or DISABLE");
  }
  auto& st = ctx.dir.store();
  json::array out;
  std::uint64_t total = 0;
  if (!want) {
    auto n = st.count_devices(pk);
    if (!n)
      return error_response(store_problem(n.error(), product_subject(pk)));
    total = *n;
    auto ds = st.list_devices(pk, page);
    if (!ds)
      return error_response(store_problem(ds.error(), product_subject(pk)));
    for (const auto& d : *ds)
      out.push_back(device_json(ctx, d, false));
  } else {
    // A status is the store's record joined with the broker's: filter while scanning the
    // product's devices in name order, then page over what matched.
    for (store::page scan{0, store::max_page_limit};; scan.offset += scan.limit) {
      auto ds = st.list_devices(pk, scan);
      if (!ds)
        return error_response(store_problem(ds.error(), product_subject(pk)));
      for (const auto& d : *ds) {
        if (status_now(ctx, d) != *want)
          continue;
        if (total >= page.offset && out.size() < page.limit)
          out.push_back(device_json(ctx, d, false));
        ++total;
      }
      if (ds->size() < scan.limit)
        break;
    }
  }
  return json_response(http::status::ok, json::object{{"productKey", pk},
                                                      {"total", total},
                                                      {"offset", page.offset},
                                                      {"limit", page.limit},
                                                      {"devices", std::move(out)}});
}

response show_device(context& ctx, const call& c) {
  const auto &pk = c.params[0], &dn = c.params[1];
  auto d = ctx.dir.store().get_device(pk, dn);
  if (!d)
    return error_response(device_problem(ctx, d.error(), pk, dn));
  return json_response(http::status::ok, device_json(ctx, *d, true));
}

response set_enabled(context& ctx, const call& c, bool enabled) {
  const auto &pk = c.params[0], &dn = c.params[1];
  if (auto b = json_body::parse(c.req.body(), {}); b.error())
    return error_response(*b.error());
  if (auto r = ctx.dir.set_device_enabled(pk, dn, enabled); !r)
    return error_response(device_problem(ctx, r.error(), pk, dn));
  if (!enabled)
    ctx.platform.disconnect_device(pk, dn, broker::close_reason::kicked, false);
  ctx.platform.sub_enabled_changed(pk, dn, enabled); // its gateway hears thing/topo/change
  auto d = ctx.dir.store().get_device(pk, dn);
  if (!d)
    return error_response(device_problem(ctx, d.error(), pk, dn));
  return json_response(http::status::ok, device_json(ctx, *d, false));
}

response disable_device(context& ctx, const call& c) {
  return set_enabled(ctx, c, false);
}
response enable_device(context& ctx, const call& c) {
  return set_enabled(ctx, c, true);
}

response delete_device(context& ctx, const call& c) {
  const auto &pk = c.params[0], &dn = c.params[1];
  auto gateway = ctx.dir.store().gateway_of(pk, dn); // read first: deleting drops its topology
  if (auto r = ctx.dir.delete_device(pk, dn); !r)
    return error_response(device_problem(ctx, r.error(), pk, dn));
  ctx.platform.disconnect_device(pk, dn, broker::close_reason::kicked, true);
  if (gateway && gateway->has_value()) // its gateway hears thing/topo/change, status 1
    ctx.platform.topo_change((*gateway)->product_key, (*gateway)->device_name,
                             platform::services::topo_removed,
                             {store::device_ref{std::string(pk), std::string(dn)}});
  return json_response(http::status::ok,
                       json::object{{"productKey", pk}, {"deviceName", dn}, {"deleted", true}});
}

} // namespace

void add_device_routes(router& r, context& ctx) {
  constexpr auto pk = path_ids::product;
  constexpr auto dev = path_ids::product_device;
  const std::string base = "/api/v1/products/{pk}/devices";
  r.add(http::verb::post, base, bind(ctx, create_device, pk));
  r.add(http::verb::get, base, bind(ctx, list_devices, pk));
  // before "{dn}": a device may be called "batch"; POST .../batch is the batch
  r.add(http::verb::post, base + "/batch", bind(ctx, create_device_batch, pk));
  r.add(http::verb::get, base + "/{dn}", bind(ctx, show_device, dev));
  r.add(http::verb::delete_, base + "/{dn}", bind(ctx, delete_device, dev));
  r.add(http::verb::post, base + "/{dn}/disable", bind(ctx, disable_device, dev));
  r.add(http::verb::post, base + "/{dn}/enable", bind(ctx, enable_device, dev));
}

} // namespace thingport::api
