// Thing data of a device (docs/http-api.md): latest properties, property history, events and the
// device shadow. Downlinks (property set, services, RRPC) are in thing_calls.cpp.
#include <algorithm>

#include <boost/json.hpp>

#include "api/errors.hpp"
#include "api/json_body.hpp"
#include "api/query.hpp"
#include "api/routes.hpp"
#include "api/thing_view.hpp"
#include "thing/shadow.hpp"
#include "thing/topic.hpp"

namespace thingport::api {

namespace json = boost::json;

namespace {

response thing_error(const std::error_code& ec, std::string_view pk, std::string_view dn) {
  return error_response(thing_problem(ec, device_subject(pk, dn)));
}

response get_properties(context& ctx, const call& c) {
  const auto &pk = c.params[0], &dn = c.params[1];
  if (auto p = missing_device(ctx, pk, dn))
    return error_response(*p);
  // Paged (issue 13, row 9): ?offset=&limit= as the other collections; without a limit the page
  // is the largest one (1000), more than [thing] max_properties lets a model-less device store,
  // so callers that read every property in one answer keep doing so.
  const bool limited = form_value(c.query, "limit").has_value();
  const auto pg = page_of(c.query);
  if (const auto* bad = std::get_if<problem>(&pg))
    return error_response(*bad);
  auto page = std::get<store::page>(pg);
  if (!limited)
    page.limit = store::max_page_limit;
  auto values = ctx.thing->store().latest_properties(pk, dn);
  if (!values)
    return thing_error(values.error(), pk, dn);
  const auto model = ctx.thing->model(pk);
  json::array out;
  const std::size_t first = std::min(page.offset, values->size());
  const std::size_t last = first + std::min(page.limit, values->size() - first);
  out.reserve(last - first);
  for (std::size_t i = first; i < last; ++i) {
    const auto& v = (*values)[i];
    json::object o{
        {"identifier", v.identifier}, {"value", json_of(v.value)}, {"time", millis(v.time)}};
    if (const auto* prop = model ? model->find_property(v.identifier) : nullptr) {
      o["name"] = prop->name;
      o["dataType"] = thing::to_string(prop->spec.type);
      if (!prop->spec.unit.empty())
        o["unit"] = prop->spec.unit;
    }
    out.push_back(std::move(o));
  }
  return json_response(http::status::ok, json::object{{"productKey", pk},
                                                      {"deviceName", dn},
                                                      {"properties", std::move(out)},
                                                      {"offset", page.offset},
                                                      {"limit", page.limit}});
}

// The checks of a time-range read: the device, the identifier (empty: any), the query.
std::variant<store::time_query, problem> range_of(context& ctx, const call& c,
                                                  std::string_view id) {
  if (auto p = missing_device(ctx, c.params[0], c.params[1]))
    return *p;
  if (!id.empty() && !thing::valid_identifier(id))
    return problem{http::status::bad_request,
                   "identifier must be 1 to 50 characters of A-Z a-z 0-9 _"};
  return time_query_of(c.query);
}

// A time-range read: `read(query)` gives the store's rows, `to_json(row)` each one's JSON; the
// answer is `head` with the rows under `key`.
template <class Read, class ToJson>
response ranged(context& ctx, const call& c, std::string_view id, json::object head,
                std::string_view key, Read read, ToJson to_json) {
  auto q = range_of(ctx, c, id);
  if (auto* p = std::get_if<problem>(&q))
    return error_response(*p);
  auto rows = read(std::get<store::time_query>(q));
  if (!rows)
    return thing_error(rows.error(), c.params[0], c.params[1]);
  json::array out;
  for (const auto& r : *rows)
    out.push_back(to_json(r));
  head[key] = std::move(out);
  return json_response(http::status::ok, head);
}

response property_history(context& ctx, const call& c) {
  const auto &pk = c.params[0], &dn = c.params[1], &id = c.params[2];
  return ranged(
      ctx, c, id, {{"identifier", id}}, "values",
      [&](const store::time_query& q) {
        return ctx.thing->store().property_history(pk, dn, id, q);
      },
      [](const store::property_value& v) {
        return json::object{{"value", json_of(v.value)}, {"time", millis(v.time)}};
      });
}

response get_events(context& ctx, const call& c) {
  const auto &pk = c.params[0], &dn = c.params[1];
  const auto id = form_value(c.query, "identifier").value_or("");
  return ranged(
      ctx, c, id, {}, "events",
      [&](const store::time_query& q) { return ctx.thing->store().events(pk, dn, id, q); },
      [](const store::event_record& e) {
        return json::object{{"identifier", e.identifier},
                            {"type", e.type},
                            {"time", millis(e.time)},
                            {"value", json_of(e.output)}};
      });
}

// The device's shadow as stored, or nullopt with the answer to give (a store failure).
struct loaded_shadow {
  thing::shadow value{};
  std::optional<response> failure{};
};

loaded_shadow load_shadow(context& ctx, std::string_view pk, std::string_view dn) {
  auto doc = ctx.thing->store().get_shadow(pk, dn);
  if (!doc)
    return {{}, thing_error(doc.error(), pk, dn)};
  if (!doc->has_value())
    return {};
  auto s = thing::shadow::from_json((*doc)->document);
  if (!s)
    return {{},
            error_response(http::status::internal_server_error, "the stored shadow is damaged")};
  return {std::move(*s), std::nullopt};
}

response get_shadow(context& ctx, const call& c) {
  const auto &pk = c.params[0], &dn = c.params[1];
  if (auto p = missing_device(ctx, pk, dn))
    return error_response(*p);
  auto s = load_shadow(ctx, pk, dn);
  if (s.failure)
    return std::move(*s.failure);
  auto doc = json_of(s.value.to_json());
  if (!doc.is_object())
    return error_response(http::status::internal_server_error, "the stored shadow is damaged");
  auto& o = doc.get_object();
  o["version"] = s.value.version(); // also for a device without one: 0
  return json_response(http::status::ok, doc);
}

// PUT .../shadow {"method":"update","state":{"desired":{..}},"version":N}: the cloud sets
// desired values (the platform's UpdateDeviceShadow). `version`, when given, must be greater
// than the shadow's (409 otherwise); the device hears the "control" message on
// /shadow/get/{pk}/{dn}.
response put_shadow(context& ctx, const call& c) {
  const auto &pk = c.params[0], &dn = c.params[1];
  if (auto p = missing_device(ctx, pk, dn))
    return error_response(*p);
  auto b = json_body::parse(c.req.body(), {"method", "state", "version"});
  const auto method = b.string("method");
  const auto state = b.object("state", true);
  const auto version = b.integer("version");
  if (b.error())
    return error_response(*b.error());
  if (method && *method != "update")
    return error_response(http::status::bad_request, "method must be \"update\"");
  const auto* desired = state->if_contains("desired");
  if (desired == nullptr || !desired->is_object() || state->size() != 1)
    return error_response(
        http::status::bad_request,
        "state must be {\"desired\":{..}}: the device reports, the cloud desires");
  auto s = load_shadow(ctx, pk, dn);
  if (s.failure)
    return std::move(*s.failure);
  if (version && *version <= s.value.version())
    return error_response(http::status::conflict, "version conflict: the shadow is at version " +
                                                      std::to_string(s.value.version()));
  const auto now = store::now();
  auto out = s.value.set_desired(desired->get_object(), now);
  if (out.code != 200 || !out.updated)
    return error_response(http::status::bad_request, "desired state refused (shadow error " +
                                                         std::to_string(out.code) +
                                                         "): at most 128 attributes");
  const store::shadow_document doc{out.updated->to_json(), out.updated->version(), now};
  auto put = ctx.thing->store().put_shadow(pk, dn, doc, s.value.version());
  if (!put && put.error() == store::thing_errc::version_conflict)
    return error_response(http::status::conflict, "version conflict: the shadow changed meanwhile");
  if (!put)
    return thing_error(put.error(), pk, dn);
  ctx.thing->send(pk, dn, thing::shadow_get_topic(pk, dn), out.reply, 1);
  return json_response(
      http::status::ok,
      json::object{{"productKey", pk}, {"deviceName", dn}, {"version", out.updated->version()}});
}

// Device tags (thing.deviceinfo.update from the device, or set here): [{attrKey, attrValue}].
json::object tags_json(std::string_view pk, std::string_view dn,
                       const std::vector<store::device_attribute>& attrs) {
  json::array tags;
  for (const auto& a : attrs)
    tags.push_back(
        json::object{{"attrKey", a.key}, {"attrValue", a.value}, {"updated", millis(a.updated)}});
  return json::object{{"productKey", pk}, {"deviceName", dn}, {"tags", std::move(tags)}};
}

response tags_answer(context& ctx, std::string_view pk, std::string_view dn) {
  auto attrs = ctx.thing->store().attributes(pk, dn);
  if (!attrs)
    return thing_error(attrs.error(), pk, dn);
  return json_response(http::status::ok, tags_json(pk, dn, *attrs));
}

response get_tags(context& ctx, const call& c) {
  const auto &pk = c.params[0], &dn = c.params[1];
  if (auto p = missing_device(ctx, pk, dn))
    return error_response(*p);
  return tags_answer(ctx, pk, dn);
}

// PUT .../tags {"tags":[{"attrKey":"room","attrValue":"kitchen"}]}: sets (replacing) those keys.
response put_tags(context& ctx, const call& c) {
  const auto &pk = c.params[0], &dn = c.params[1];
  if (auto p = missing_device(ctx, pk, dn))
    return error_response(*p);
  auto b = json_body::parse(c.req.body(), {"tags"});
  if (b.error())
    return error_response(*b.error());
  const auto* list = b.raw().if_contains("tags");
  if (list == nullptr || !list->is_array() || list->as_array().empty() ||
      list->as_array().size() > 100)
    return error_response(http::status::bad_request,
                          "tags must be an array of 1 to 100 {\"attrKey\",\"attrValue\"}");
  std::vector<store::device_attribute> attrs;
  const auto now = store::now();
  for (const auto& t : list->as_array()) {
    const auto* o = t.if_object();
    const auto* k = o ? o->if_contains("attrKey") : nullptr;
    const auto* v = o ? o->if_contains("attrValue") : nullptr;
    if (k == nullptr || v == nullptr || !k->is_string() || !v->is_string() || o->size() != 2)
      return error_response(http::status::bad_request,
                            "each tag must be {\"attrKey\":string,\"attrValue\":string}");
    attrs.push_back({std::string(k->as_string()), std::string(v->as_string()), now});
  }
  if (auto r = ctx.thing->store().set_attributes(pk, dn, attrs); !r)
    return thing_error(r.error(), pk, dn);
  return tags_answer(ctx, pk, dn);
}

// DELETE .../tags?key=room&key=floor
response delete_tags(context& ctx, const call& c) {
  const auto &pk = c.params[0], &dn = c.params[1];
  if (auto p = missing_device(ctx, pk, dn))
    return error_response(*p);
  std::vector<std::string> keys;
  for (const auto& [k, v] : c.query)
    if (k == "key")
      keys.push_back(v);
  if (keys.empty())
    return error_response(http::status::bad_request, "name the tags to delete: ?key=K&key=...");
  if (auto r = ctx.thing->store().delete_attributes(pk, dn, keys); !r)
    return thing_error(r.error(), pk, dn);
  return tags_answer(ctx, pk, dn);
}

} // namespace

void add_thing_routes(router& r, context& ctx) {
  constexpr auto dev = path_ids::product_device;
  const std::string base = "/api/v1/products/{pk}/devices/{dn}";
  r.add(http::verb::get, base + "/properties", bind(ctx, get_properties, dev));
  r.add(http::verb::get, base + "/properties/{identifier}/history",
        bind(ctx, property_history, dev));
  r.add(http::verb::get, base + "/events", bind(ctx, get_events, dev));
  r.add(http::verb::get, base + "/shadow", bind(ctx, get_shadow, dev));
  r.add(http::verb::put, base + "/shadow", bind(ctx, put_shadow, dev));
  r.add(http::verb::get, base + "/tags", bind(ctx, get_tags, dev));
  r.add(http::verb::put, base + "/tags", bind(ctx, put_tags, dev));
  r.add(http::verb::delete_, base + "/tags", bind(ctx, delete_tags, dev));
}

} // namespace thingport::api
