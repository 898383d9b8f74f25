// A gateway's sub-devices (docs/http-api.md "Gateways"): GET, POST (add) and DELETE (remove)
// /api/v1/products/{pk}/devices/{dn}/topo. Only a device of a gateway product holds sub-devices,
// only devices of sub-device products are held, each by one gateway (adding one that another
// gateway holds moves it, as the cloud does), at most max_sub_devices per gateway.
#include <algorithm>
#include <variant>

#include <boost/json.hpp>

#include "api/device_view.hpp"
#include "api/errors.hpp"
#include "api/json_body.hpp"
#include "api/routes.hpp"
#include "api/thing_view.hpp"

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
  for (const auto& s : subs) {
    auto d = st.get_device(s.product_key, s.device_name);
    if (!d)
      return error_response(store_problem(d.error(), device_subject(s.product_key, s.device_name)));
    const auto node = node_of(ctx, s.product_key);
    if (const auto* p = std::get_if<problem>(&node))
      return error_response(*p);
    if (std::get<store::node_type>(node) != store::node_type::subdevice)
      return error_response(http::status::conflict,
                            device_subject(s.product_key, s.device_name) +
                                " is not a sub-device (its product's nodeType is " +
                                std::string(store::to_string(std::get<store::node_type>(node))) +
                                ")");
  }
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
  return topology(ctx, pk, dn);
}

} // namespace

void add_topology_routes(router& r, context& ctx) {
  constexpr auto dev = path_ids::product_device;
  const std::string path = "/api/v1/products/{pk}/devices/{dn}/topo";
  r.add(http::verb::get, path, bind(ctx, get_topo, dev));
  r.add(http::verb::post, path, bind(ctx, add_topo, dev));
  r.add(http::verb::delete_, path, bind(ctx, remove_topo, dev));
}

} // namespace thingport::api
