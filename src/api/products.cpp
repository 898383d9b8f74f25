// Products, their custom topic classes and their thing model.
#include <boost/json.hpp>

#include "api/errors.hpp"
#include "api/json_body.hpp"
#include "api/listing.hpp"
#include "api/query.hpp"
#include "api/routes.hpp"
#include "api/tsl.hpp"
#include "auth/permissions.hpp"

namespace thingport::api {

namespace json = boost::json;

namespace {

json::object product_json(const store::product& p, bool with_secret) {
  json::object o{{"productKey", p.product_key},
                 {"name", p.name},
                 {"dynamicRegistration", p.dynamic_registration},
                 {"nodeType", store::to_string(p.node)},
                 {"created", millis(p.created)}};
  if (with_secret)
    o["productSecret"] = p.product_secret;
  return o;
}

json::object topic_json(const store::topic_class& tc) {
  return {{"topic", tc.topic}, {"access", auth::to_string(tc.access)}};
}

std::string subject(std::string_view pk) {
  return "product " + std::string(pk);
}

response create_product(context& ctx, const call& c) {
  auto b = json_body::parse(
      c.req.body(), {"name", "dynamicRegistration", "productKey", "productSecret", "nodeType"});
  store::new_product spec;
  spec.name = b.string("name", true).value_or("");
  spec.dynamic_registration = b.boolean("dynamicRegistration").value_or(false);
  spec.product_key = b.string("productKey").value_or("");
  spec.product_secret = b.string("productSecret").value_or("");
  if (const auto node = b.string("nodeType")) {
    if (const auto t = store::parse_node_type(*node))
      spec.node = *t;
    else
      b.fail("nodeType must be \"device\", \"gateway\" or \"subdevice\"");
  }
  if (b.error())
    return error_response(*b.error());
  auto p = ctx.dir.create_product(spec);
  if (!p)
    return error_response(store_problem(p.error(), subject(spec.product_key)));
  return json_response(http::status::created, product_json(*p, true));
}

response list_products(context& ctx, const call& c) {
  auto& st = ctx.dir.store();
  return paged_list(
      c, "products", [&st](store::page pg) { return st.list_products(pg); },
      [&st](const store::product& p) {
        auto o = product_json(p, false);
        if (auto n = st.count_devices(p.product_key))
          o["deviceCount"] = *n;
        return o;
      });
}

response show_product(context& ctx, const call& c) {
  const auto& pk = c.params[0];
  auto& st = ctx.dir.store();
  auto p = st.get_product(pk);
  auto topics = st.list_topic_classes(pk);
  auto n = st.count_devices(pk);
  auto tsl = st.get_thing_model(pk);
  if (auto ec = first_error(p, topics, n, tsl))
    return error_response(store_problem(ec, subject(pk)));
  auto o = product_json(*p, true);
  json::array ts;
  for (const auto& tc : *topics)
    ts.push_back(topic_json(tc));
  o["topics"] = std::move(ts);
  o["deviceCount"] = *n;
  o["thingModel"] = tsl->has_value();
  return json_response(http::status::ok, o);
}

response add_topic(context& ctx, const call& c) {
  const auto& pk = c.params[0];
  auto b = json_body::parse(c.req.body(), {"topic", "access"});
  auto topic = b.string("topic", true);
  auto access_text = b.string("access", true);
  if (b.error())
    return error_response(*b.error());
  const auto acc = auth::parse_access(*access_text);
  if (!acc || *acc == auth::access::none)
    return error_response(http::status::bad_request, "access must be \"pub\", \"sub\" or \"all\"");
  if (ctx.dir.permissions(pk) == nullptr)
    return error_response(http::status::not_found, subject(pk) + " not found");
  if (auto why = auth::topic_class_error(*topic, *acc, pk); !why.empty())
    return error_response(http::status::bad_request, "invalid topic class: " + std::string(why));
  store::topic_class tc{pk, *topic, *acc};
  if (auto r = ctx.dir.add_topic_class(tc); !r)
    return error_response(store_problem(
        r.error(), r.error() == store::errc::not_found ? subject(pk) : "topic class " + *topic));
  auto o = topic_json(tc);
  o["productKey"] = pk;
  return json_response(http::status::created, o);
}

response list_topics(context& ctx, const call& c) {
  const auto& pk = c.params[0];
  auto topics = ctx.dir.store().list_topic_classes(pk);
  if (!topics)
    return error_response(store_problem(topics.error(), subject(pk)));
  json::array ts;
  for (const auto& tc : *topics)
    ts.push_back(topic_json(tc));
  return json_response(http::status::ok,
                       json::object{{"productKey", pk}, {"topics", std::move(ts)}});
}

response put_tsl(context& ctx, const call& c) {
  const auto& pk = c.params[0];
  const std::string& body = c.req.body();
  if (body.size() > store::max_thing_model_bytes)
    return error_response(http::status::payload_too_large, "thing model over 1 MiB");
  auto checked = check_tsl(body);
  if (auto* p = std::get_if<problem>(&checked))
    return error_response(*p);
  if (auto r = ctx.dir.store().set_thing_model(pk, std::string_view(body)); !r)
    return error_response(store_problem(r.error(), subject(pk)));
  if (ctx.thing != nullptr) // devices' messages are checked against it from now on
    ctx.thing->set_model(pk, std::get<std::shared_ptr<const thing::thing_model>>(checked));
  ctx.dir.changed("model", pk); // other nodes of a cluster read it again
  return json_response(http::status::ok, json::object{{"productKey", pk}, {"bytes", body.size()}});
}

response get_tsl(context& ctx, const call& c) {
  const auto& pk = c.params[0];
  auto tsl = ctx.dir.store().get_thing_model(pk);
  if (!tsl)
    return error_response(store_problem(tsl.error(), subject(pk)));
  if (!tsl->has_value())
    return error_response(http::status::not_found, subject(pk) + " has no thing model");
  return text_response(http::status::ok, "application/json", std::move(**tsl));
}

} // namespace

void add_product_routes(router& r, context& ctx) {
  constexpr auto pk = path_ids::product;
  r.add(http::verb::post, "/api/v1/products", bind(ctx, create_product));
  r.add(http::verb::get, "/api/v1/products", bind(ctx, list_products));
  r.add(http::verb::get, "/api/v1/products/{pk}", bind(ctx, show_product, pk));
  r.add(http::verb::post, "/api/v1/products/{pk}/topics", bind(ctx, add_topic, pk));
  r.add(http::verb::get, "/api/v1/products/{pk}/topics", bind(ctx, list_topics, pk));
  r.add(http::verb::put, "/api/v1/products/{pk}/tsl", bind(ctx, put_tsl, pk));
  r.add(http::verb::get, "/api/v1/products/{pk}/tsl", bind(ctx, get_tsl, pk));
}

} // namespace thingport::api
