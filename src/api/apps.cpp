// Application clients (docs/protocol.md "The cloud side"): a backend's MQTT credentials over its
// products.
#include <boost/json.hpp>

#include "api/errors.hpp"
#include "api/json_body.hpp"
#include "api/listing.hpp"
#include "api/query.hpp"
#include "api/routes.hpp"

namespace thingport::api {

namespace json = boost::json;

namespace {

json::object app_json(const store::application& a, bool with_secret) {
  json::array ps;
  for (const auto& p : a.products)
    ps.emplace_back(p);
  json::object o{{"appKey", a.app_key},
                 {"name", a.name},
                 {"enabled", a.enabled},
                 {"products", std::move(ps)},
                 {"created", millis(a.created)}};
  if (with_secret)
    o["appSecret"] = a.app_secret;
  return o;
}

response create_app(context& ctx, const call& c) {
  auto b = json_body::parse(c.req.body(), {"name", "products", "appKey", "appSecret"});
  store::new_application spec;
  spec.name = b.string("name", true).value_or("");
  spec.products =
      b.strings("products", store::max_app_products, true).value_or(std::vector<std::string>{});
  spec.app_key = b.string("appKey").value_or("");
  spec.app_secret = b.string("appSecret").value_or("");
  if (b.error())
    return error_response(*b.error());
  auto a = ctx.dir.create_app(spec);
  if (!a) {
    return error_response(store_problem(a.error(), a.error() == store::errc::not_found
                                                       ? "a product of \"products\""
                                                       : "application " + spec.app_key));
  }
  return json_response(http::status::created, app_json(*a, true));
}

response list_apps(context& ctx, const call& c) {
  auto& st = ctx.dir.store();
  return paged_list(
      c, "apps", [&st](store::page pg) { return st.list_apps(pg); },
      [](const store::application& a) { return app_json(a, false); });
}

response show_app(context& ctx, const call& c) {
  const auto& key = c.params[0];
  auto a = ctx.dir.store().get_app(key);
  if (!a)
    return error_response(store_problem(a.error(), "application " + key));
  return json_response(http::status::ok, app_json(*a, true));
}

} // namespace

void add_app_routes(router& r, context& ctx) {
  r.add(http::verb::post, "/api/v1/apps", bind(ctx, create_app));
  r.add(http::verb::get, "/api/v1/apps", bind(ctx, list_apps));
  r.add(http::verb::get, "/api/v1/apps/{appKey}", bind(ctx, show_app, path_ids::app));
}

} // namespace thingport::api
