#include "thing/handler.hpp"

#include <boost/json/object.hpp>

#include "thing/alink.hpp"
#include "thing/code.hpp"
#include "thing/forward.hpp"
#include "thing/ntp.hpp"

namespace thingport::thing {

namespace json = boost::json;

namespace {

// One message on its way through handle().
struct context {
  const inbound& msg;
  const topic_info& topic;
  const thing_model* model;
  device_state& state;
  const handler_options& options;
  handler_result& out;

  void publish(std::string topic_name, std::string payload) {
    out.actions.emplace_back(publish_action{std::move(topic_name), std::move(payload)});
  }
  void forward(std::string_view rest, std::string payload) {
    out.actions.emplace_back(forward_action{
        forward_topic(msg.device.product_key, msg.device.device_name, rest), std::move(payload)});
  }
};

// The Alink reply on {topic}_reply, unless the device asked for none.
void reply(context& c, const request& req, std::error_code ec,
           const json::value& data = json::object{}) {
  if (req.ack) {
    c.publish(reply_topic(c.msg.topic), make_reply(req, ec, data));
  }
}

// Refuses the request with `ec`, answering it when the device wants answers.
void refuse(context& c, const request& req, std::error_code ec) {
  c.out.ec = ec;
  reply(c, req, ec);
}

// What the device hears when storing fails.
void failure_reply(context& c, const request& req) {
  if (req.ack) {
    c.out.failure_reply =
        publish_action{reply_topic(c.msg.topic),
                       make_reply(req, make_error_code(code::server_error), json::object{})};
  }
}

forward_context forward_of(const context& c, const std::string& id) {
  return {.product_key = c.msg.device.product_key,
          .device_name = c.msg.device.device_name,
          .request_id = id,
          .now = c.msg.now};
}

// Stores, answers and forwards a checked post.
void serve_post(context& c, const request& req, const post_result& r, std::string_view forward_rest,
                bool batch) {
  if (r.ec) {
    refuse(c, req, r.ec);
    return;
  }
  if (!r.properties.empty()) {
    store_properties_action a;
    a.items.reserve(r.properties.size());
    for (const property_item& p : r.properties) {
      a.items.push_back({.identifier = p.identifier, .value = to_json(p.value), .time = p.time});
    }
    c.out.actions.emplace_back(std::move(a));
  }
  if (!r.events.empty()) {
    store_events_action a;
    a.items.reserve(r.events.size());
    for (const event_item& e : r.events) {
      a.items.push_back({.identifier = e.identifier,
                         .type = e.type,
                         .output = to_json(e.output),
                         .time = e.time});
    }
    c.out.actions.emplace_back(std::move(a));
  }
  if (!c.out.actions.empty()) {
    failure_reply(c, req);
  }
  reply(c, req, {});
  const std::string id = id_text(req.id);
  const forward_context f = forward_of(c, id);
  if (!forward_rest.empty() && (!r.properties.empty() || !r.failed.empty())) {
    c.forward(forward_rest, batch ? property_batch_forward(f, r) : property_post_forward(f, r));
  }
  for (const event_item& e : r.events) {
    c.forward("thing/event/" + e.identifier + "/post", event_forward(f, e));
  }
}

void desired_get(context& c, const request& req) {
  auto ids = parse_desired_get(req.params);
  if (!ids) {
    refuse(c, req, ids.error());
    return;
  }
  auto values = c.state.desired(*ids);
  if (!values) {
    refuse(c, req, make_error_code(code::server_error));
    return;
  }
  json::object data;
  for (const desired_value& d : *values) {
    auto v = parse_json(d.value);
    if (!v) {
      continue; // a damaged row: leave it out rather than fail the device
    }
    json::object entry;
    entry.emplace("value", std::move(*v));
    entry.emplace("version", d.version);
    data.emplace(d.identifier, std::move(entry));
  }
  reply(c, req, {}, data);
}

template <typename Parsed, typename Make>
void store_request(context& c, const request& req, const result<Parsed>& parsed, Make&& make) {
  if (!parsed) {
    refuse(c, req, parsed.error());
    return;
  }
  c.out.actions.emplace_back(make(*parsed));
  failure_reply(c, req);
  reply(c, req, {});
}

void dsltemplate_get(context& c, const request& req) {
  if (c.model == nullptr) {
    reply(c, req, {});
    return;
  }
  auto tsl = parse_json(c.model->json(), {.max_bytes = c.model->json().size(), .max_depth = 64});
  reply(c, req, {}, tsl ? *tsl : json::value(json::object{}));
}

void device_reply_of(context& c, downlink_kind kind) {
  auto r = parse_device_reply(c.msg.payload, c.options.json);
  if (!r) {
    c.out.ec = r.error();
    return;
  }
  c.out.actions.emplace_back(complete_downlink_action{
      .kind = kind,
      .id = r->id,
      .identifier = std::string(kind == downlink_kind::service ? c.topic.identifier : ""),
      .code = r->code,
      .reply = r->data.is_null() ? std::string("{}") : to_json(r->data)});
}

void rrpc_response(context& c) {
  std::string inner;
  if (c.topic.kind == topic_kind::ext_rrpc_response) {
    // The inner topic must be the device's own: /{pk}/{dn}/... (a custom topic) or
    // /sys/{pk}/{dn}/... (a sync service to an ext=1 device).
    const std::string own = "/" + std::string(c.msg.device.product_key) + "/" +
                            std::string(c.msg.device.device_name) + "/";
    if (!c.topic.rest.starts_with(own) && !c.topic.rest.starts_with("/sys" + own)) {
      c.out.ec = make_error_code(code::bad_request);
      return;
    }
    inner.assign(c.topic.rest);
  }
  c.out.actions.emplace_back(complete_downlink_action{.kind = downlink_kind::rrpc,
                                                      .id = std::string(c.topic.identifier),
                                                      .identifier = std::move(inner),
                                                      .code = 200,
                                                      .reply = std::string(c.msg.payload)});
}

void ntp(context& c) {
  auto response = ntp_response(c.msg.payload, c.msg.now, c.msg.now);
  if (!response) {
    c.out.ec = response.error();
    return;
  }
  c.publish(ntp_response_topic(c.msg.device.product_key, c.msg.device.device_name),
            std::move(*response));
}

void shadow_update(context& c) {
  const std::string topic = shadow_get_topic(c.msg.device.product_key, c.msg.device.device_name);
  auto current = c.state.current_shadow();
  if (!current) {
    c.out.ec = make_error_code(code::server_error);
    c.publish(topic, shadow::error_reply(500, c.msg.now));
    return;
  }
  shadow_outcome o = current->apply(c.msg.payload, c.msg.now);
  if (o.code != 200) {
    c.out.ec = make_error_code(code::bad_request);
  }
  if (o.updated) {
    c.out.actions.emplace_back(store_shadow_action{.document = o.updated->to_json(),
                                                   .version = o.updated->version(),
                                                   .expected_version = current->version()});
    c.out.failure_reply = publish_action{topic, shadow::error_reply(500, c.msg.now)};
  }
  c.publish(topic, std::move(o.reply));
}

void ota_inform(context& c) {
  auto v = parse_ota_inform(c.msg.payload);
  if (!v) {
    c.out.ec = v.error();
    return;
  }
  c.out.actions.emplace_back(ota_version_action{std::move(*v)});
}

// The /sys requests that carry an Alink envelope.
void alink_request(context& c) {
  const request_result parsed = parse_request(c.msg.payload, method_of(c.topic), c.options.json);
  const request& req = parsed.value;
  if (parsed.ec) {
    refuse(c, req, parsed.ec);
    return;
  }
  const time_point now = c.msg.now;
  switch (c.topic.kind) {
  case topic_kind::property_post:
    serve_post(c, req, check_property_post(c.model, req.params, now, c.options.posts),
               "thing/event/property/post", false);
    return;
  case topic_kind::event_post:
    serve_post(c, req, check_event_post(c.model, c.topic.identifier, req.params, now), {}, false);
    return;
  case topic_kind::property_batch_post:
    serve_post(c, req, check_batch_post(c.model, req.params, now, c.options.posts),
               "thing/event/property/batch/post", true);
    return;
  case topic_kind::property_history_post:
    serve_post(c, req,
               check_history_post(c.model, c.msg.device.product_key, c.msg.device.device_name,
                                  req.params, now, c.options.posts),
               "thing/event/property/history/post", true);
    return;
  case topic_kind::desired_get:
    desired_get(c, req);
    return;
  case topic_kind::desired_delete:
    store_request(c, req, parse_desired_delete(req.params), [](std::vector<desired_delete> v) {
      return delete_desired_action{std::move(v)};
    });
    return;
  case topic_kind::deviceinfo_update:
    store_request(c, req, parse_deviceinfo_update(req.params),
                  [](std::vector<attribute> v) { return set_attributes_action{std::move(v)}; });
    return;
  case topic_kind::deviceinfo_delete:
    store_request(c, req, parse_deviceinfo_delete(req.params), [](std::vector<std::string> v) {
      return delete_attributes_action{std::move(v)};
    });
    return;
  case topic_kind::dsltemplate_get:
    dsltemplate_get(c, req);
    return;
  case topic_kind::topo_add:
  case topic_kind::topo_delete:
  case topic_kind::topo_get:
  case topic_kind::sub_register:
  case topic_kind::combine_login:
  case topic_kind::combine_logout:
  case topic_kind::combine_batch_login:
  case topic_kind::combine_batch_logout:
  case topic_kind::list_found:
  case topic_kind::proxy_product_register:
    c.out.actions.emplace_back(topology_action{c.topic.kind, req, reply_topic(c.msg.topic)});
    return;
  default:
    refuse(c, req, make_error_code(code::method_not_found));
    return;
  }
}

} // namespace

handler_result handle(const inbound& msg, const thing_model* model, device_state& state,
                      const handler_options& options) {
  const topic_info topic = classify_topic(msg.topic);
  handler_result out;
  out.kind = topic.kind;
  if (topic.kind == topic_kind::not_thing) {
    out.ec = make_error_code(code::method_not_found);
    return out;
  }
  // The router checked permissions; a topic of another device still never reaches the store.
  if (topic.kind != topic_kind::ext_rrpc_response &&
      (topic.product_key != msg.device.product_key ||
       topic.device_name != msg.device.device_name)) {
    out.ec = make_error_code(code::bad_request);
    return out;
  }
  context c{msg, topic, model, state, options, out};
  switch (topic.kind) {
  case topic_kind::property_set_reply:
    device_reply_of(c, downlink_kind::property_set);
    break;
  case topic_kind::service_reply:
    device_reply_of(c, downlink_kind::service);
    break;
  case topic_kind::rrpc_response:
  case topic_kind::ext_rrpc_response:
    rrpc_response(c);
    break;
  case topic_kind::ntp_request:
    ntp(c);
    break;
  case topic_kind::shadow_update:
    shadow_update(c);
    break;
  case topic_kind::ota_inform:
    ota_inform(c);
    break;
  case topic_kind::unknown_reply:
    out.ec = make_error_code(code::method_not_found); // never answer a reply
    break;
  default:
    alink_request(c);
    break;
  }
  return out;
}

} // namespace thingport::thing
