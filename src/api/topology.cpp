// A gateway's sub-devices (docs/http-api.md "Gateways"): GET, POST (add) and DELETE (remove)
// /api/v1/products/{pk}/devices/{dn}/topo (the gateway hears thing/topo/change), GET .../topo/found
// (what it reported with thing.list.found) and POST .../topo/notify (thing/topo/add/notify). Only a
// device of a gateway product holds sub-devices, only devices of sub-device products are held, each
// by one gateway (adding one that another gateway holds moves it, as the cloud does), at most
// max_sub_devices per gateway.
#include <algorithm>
#include <map>
#include <variant>

#include <boost/json.hpp>

#include "api/device_view.hpp"
#include "api/errors.hpp"
#include "api/json_body.hpp"
#include "api/routes.hpp"
#include "api/thing_view.hpp"
#include "platform/topology.hpp"

namespace thingport::api {

namespace json = boost::json;

namespace {

using store::max_sub_devices;
constexpr std::size_t max_per_request = 100; // sub-devices named in one POST or DELETE

std::string ref_text(const store::device_ref& d) {
  return d.product_key + "/" + d.device_name;
}

// The product's node type, or the problem of reading it.
std::variant<store::node_type, problem> node_of(context& ctx, std::string_view pk) {
  auto p = ctx.dir.store().get_product(pk);
  if (!p)
    return store_problem(p.error(), "product " + std::string(pk));
  return p->node;
}

// The gateway of the path: it exists and its product is a gateway product.
std::optional<problem> check_gateway(context& ctx, std::string_view pk, std::string_view dn) {
  auto d = ctx.dir.store().get_device(pk, dn);
  if (!d)
    return store_problem(d.error(), device_subject(pk, dn));
  const auto node = node_of(ctx, pk);
  if (const auto* p = std::get_if<problem>(&node))
    return *p;
  if (std::get<store::node_type>(node) != store::node_type::gateway)
    return problem{http::status::conflict,
                   device_subject(pk, dn) + " is not a gateway (its product's nodeType is " +
                       std::string(store::to_string(std::get<store::node_type>(node))) + ")"};
  return std::nullopt;
}

// {"subDevices":[{"productKey","deviceName"}, ...]}: 1..max_per_request, each named once.
std::variant<std::vector<store::device_ref>, problem> refs_of(const call& c) {
  auto b = json_body::parse(c.req.body(), {"subDevices"});
  if (b.error())
    return *b.error();
  const auto* list = b.raw().if_contains("subDevices");
  const auto bad = [](std::string why) {
    return problem{http::status::bad_request, std::move(why)};
  };
  if (list == nullptr || !list->is_array())
    return bad("\"subDevices\" must be an array of {\"productKey\",\"deviceName\"}");
  const auto& arr = list->get_array();
  if (arr.empty() || arr.size() > max_per_request)
    return bad("\"subDevices\" must name 1 to " + std::to_string(max_per_request) + " devices");
  std::vector<store::device_ref> out;
  out.reserve(arr.size());
  for (const auto& v : arr) {
    const auto* o = v.if_object();
    const json::value* pk = o ? o->if_contains("productKey") : nullptr;
    const json::value* dn = o ? o->if_contains("deviceName") : nullptr;
    if (o == nullptr || o->size() != 2 || pk == nullptr || dn == nullptr || !pk->is_string() ||
        !dn->is_string())
      return bad("each of \"subDevices\" must be {\"productKey\",\"deviceName\"} (strings)");
    store::device_ref r{std::string(pk->get_string()), std::string(dn->get_string())};
    if (std::find(out.begin(), out.end(), r) != out.end())
      return bad("\"subDevices\" names " + ref_text(r) + " twice");
    out.push_back(std::move(r));
  }
  return out;
}

// Each exists (404) and is of a subdevice product (409).
std::optional<problem> check_subs(context& ctx, const std::vector<store::device_ref>& subs) {
  for (const auto& s : subs) {
    auto d = ctx.dir.store().get_device(s.product_key, s.device_name);
    if (!d)
      return store_problem(d.error(), device_subject(s.product_key, s.device_name));
    const auto node = node_of(ctx, s.product_key);
    if (const auto* p = std::get_if<problem>(&node))
      return *p;
    if (std::get<store::node_type>(node) != store::node_type::subdevice)
      return problem{http::status::conflict,
                     device_subject(s.product_key, s.device_name) +
                         " is not a sub-device (its product's nodeType is " +
                         std::string(store::to_string(std::get<store::node_type>(node))) + ")"};
  }
  return std::nullopt;
}

response topology(context& ctx, std::string_view pk, std::string_view dn) {
  auto subs = ctx.dir.store().sub_devices(pk, dn);
  if (!subs)
    return error_response(store_problem(subs.error(), device_subject(pk, dn)));
  json::array out;
  out.reserve(subs->size());
  for (const auto& s : *subs) {
    json::object o{{"productKey", s.product_key}, {"deviceName", s.device_name}};
    if (auto d = ctx.dir.store().get_device(s.product_key, s.device_name))
      o["status"] = store::to_string(status_now(ctx, *d));
    out.push_back(std::move(o));
  }
  return json_response(
      http::status::ok,
      json::object{{"productKey", pk}, {"deviceName", dn}, {"subDevices", std::move(out)}});
}

response get_topo(context& ctx, const call& c) {
  const auto &pk = c.params[0], &dn = c.params[1];
  if (auto p = check_gateway(ctx, pk, dn))
    return error_response(*p);
  return topology(ctx, pk, dn);
}

// A POST or DELETE: the gateway of the path, then the sub-devices of the body.
std::variant<std::vector<store::device_ref>, problem> change_request(context& ctx, const call& c) {
  if (auto p = check_gateway(ctx, c.params[0], c.params[1]))
    return *p;
  return refs_of(c);
}

response add_topo(context& ctx, const call& c) {
  const auto &pk = c.params[0], &dn = c.params[1];
  auto parsed = change_request(ctx, c);
  if (const auto* p = std::get_if<problem>(&parsed))
    return error_response(*p);
  const auto& subs = std::get<std::vector<store::device_ref>>(parsed);
  auto& st = ctx.dir.store();
  if (auto p = check_subs(ctx, subs))
    return error_response(*p);
  // Those another gateway holds: that gateway hears they left it.
  std::map<store::device_ref, std::vector<store::device_ref>> moved;
  for (const auto& s : subs)
    if (auto g = st.gateway_of(s.product_key, s.device_name);
        g && g->has_value() && ((*g)->product_key != pk || (*g)->device_name != dn))
      moved[**g].push_back(s);
  // One held by another gateway moves here (as the cloud does); the store holds the bound.
  if (auto r = st.add_sub_devices(pk, dn, subs); !r) {
    if (r.error() == store::errc::limit_reached)
      return error_response(http::status::conflict,
                            device_subject(pk, dn) + " would hold more than " +
                                std::to_string(max_sub_devices) + " sub-devices");
    return error_response(store_problem(r.error(), device_subject(pk, dn)));
  }
  for (const auto& s : subs) // moved here: logged out of the gateway it was logged in through
    ctx.platform.end_sub_session(s.product_key, s.device_name, pk, dn);
  for (const auto& [g, left] : moved)
    ctx.platform.topo_change(g.product_key, g.device_name, platform::services::topo_removed, left);
  ctx.platform.topo_change(pk, dn, platform::services::topo_added, subs);
  if (auto* gw = ctx.platform.gateways())
    gw->forget_found(pk, dn, subs);
  return topology(ctx, pk, dn);
}

response remove_topo(context& ctx, const call& c) {
  const auto &pk = c.params[0], &dn = c.params[1];
  auto parsed = change_request(ctx, c);
  if (const auto* p = std::get_if<problem>(&parsed))
    return error_response(*p);
  const auto& subs = std::get<std::vector<store::device_ref>>(parsed);
  auto& st = ctx.dir.store();
  for (const auto& s : subs) {
    auto g = st.gateway_of(s.product_key, s.device_name);
    if (!g)
      return error_response(store_problem(g.error(), device_subject(s.product_key, s.device_name)));
    if (!g->has_value() || (*g)->product_key != pk || (*g)->device_name != dn)
      return error_response(http::status::not_found, device_subject(s.product_key, s.device_name) +
                                                         " is not a sub-device of " +
                                                         device_subject(pk, dn));
  }
  if (auto r = st.remove_sub_devices(pk, dn, subs); !r)
    return error_response(store_problem(r.error(), device_subject(pk, dn)));
  for (const auto& s : subs) // out of the topology: logged out
    ctx.platform.end_sub_session(s.product_key, s.device_name);
  ctx.platform.topo_change(pk, dn, platform::services::topo_removed, subs);
  return topology(ctx, pk, dn);
}

// What the gateway reported with thing.list.found (in memory: a restart forgets it).
response get_found(context& ctx, const call& c) {
  const auto &pk = c.params[0], &dn = c.params[1];
  if (auto p = check_gateway(ctx, pk, dn))
    return error_response(*p);
  json::array out;
  if (auto* gw = ctx.platform.gateways())
    for (const auto& f : gw->found(pk, dn))
      out.push_back(json::object{{"productKey", f.ref.product_key},
                                 {"deviceName", f.ref.device_name},
                                 {"time", f.at.time_since_epoch().count()}});
  return json_response(
      http::status::ok,
      json::object{{"productKey", pk}, {"deviceName", dn}, {"foundDevices", std::move(out)}});
}

// Asks the gateway to add sub-devices (thing/topo/add/notify); it answers by thing.topo.add.
response notify_add(context& ctx, const call& c) {
  const auto &pk = c.params[0], &dn = c.params[1];
  auto parsed = change_request(ctx, c);
  if (const auto* p = std::get_if<problem>(&parsed))
    return error_response(*p);
  const auto& subs = std::get<std::vector<store::device_ref>>(parsed);
  if (subs.size() > platform::max_topo_request)
    return error_response(http::status::bad_request,
                          "\"subDevices\" must name 1 to " +
                              std::to_string(platform::max_topo_request) + " devices");
  if (auto p = check_subs(ctx, subs))
    return error_response(*p);
  const auto id = ctx.platform.topo_add_notify(pk, dn, subs);
  json::array list;
  for (const auto& s : subs)
    list.push_back(json::object{{"productKey", s.product_key}, {"deviceName", s.device_name}});
  return json_response(http::status::ok, json::object{{"productKey", pk},
                                                      {"deviceName", dn},
                                                      {"messageId", id},
                                                      {"subDevices", std::move(list)}});
}

} // namespace

void add_topology_routes(router& r, context& ctx) {
  constexpr auto dev = path_ids::product_device;
  const std::string path = "/api/v1/products/{pk}/devices/{dn}/topo";
  r.add(http::verb::get, path, bind(ctx, get_topo, dev));
  r.add(http::verb::post, path, bind(ctx, add_topo, dev));
  r.add(http::verb::delete_, path, bind(ctx, remove_topo, dev));
  r.add(http::verb::get, path + "/found", bind(ctx, get_found, dev));
  r.add(http::verb::post, path + "/notify", bind(ctx, notify_add, dev));
}

} // namespace thingport::api
