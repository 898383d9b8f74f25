#include "thing/post.hpp"

#include <algorithm>
#include <optional>

#include "thing/code.hpp"
#include "thing/value_check.hpp"

namespace thingport::thing {

namespace json = boost::json;

namespace {

// json::string converts to json::string_view without a copy; taking json::string here would
// make a temporary of every object key.
std::string_view view(json::string_view s) noexcept {
  return {s.data(), s.size()};
}

// {"value":v,"time":ms} or a plain v.
struct unwrapped {
  const json::value* value = nullptr;
  time_point time{};
  bool bad_time = false;
};

unwrapped unwrap(const json::value& v, time_point now) {
  unwrapped out{.value = &v, .time = now, .bad_time = false};
  const json::object* obj = v.if_object();
  const json::value* inner = obj == nullptr ? nullptr : obj->if_contains("value");
  if (inner == nullptr) {
    return out;
  }
  out.value = inner;
  if (const json::value* t = obj->if_contains("time"); t != nullptr && !t->is_null()) {
    const auto ms = int_of(*t);
    if (ms && *ms >= 0) {
      out.time = from_ms(*ms);
    } else {
      out.bad_time = true;
    }
  }
  return out;
}

failed_item failure(std::string_view id, const json::value& v, time_point t, code c,
                    std::string message) {
  return {.identifier = std::string(id),
          .value = v,
          .time = t,
          .code = static_cast<int>(c),
          .message = std::move(message)};
}

std::string bad_time_message(std::string_view id) {
  return "time must be UTC milliseconds -> " + std::string(id);
}

// A value checked against a data type, or against nothing (no thing model): the accepted
// value, or the failure.
std::optional<json::value> check_against(const data_spec* spec, std::string_view id,
                                         const json::value& v, time_point t,
                                         std::vector<failed_item>& failed) {
  if (spec == nullptr) {
    return v;
  }
  check_result r = check_value(*spec, v, id);
  if (!r) {
    failed.push_back(failure(id, v, t, static_cast<code>(to_int(r.ec)), std::move(r.message)));
    return std::nullopt;
  }
  return std::move(r.value);
}

void check_property(const thing_model* model, std::string_view id, const json::value& raw,
                    time_point now, post_result& out) {
  const unwrapped u = unwrap(raw, now);
  if (u.bad_time) {
    out.failed.push_back(failure(id, *u.value, now, code::bad_params, bad_time_message(id)));
    return;
  }
  const data_spec* spec = nullptr;
  if (model == nullptr) {
    if (!valid_identifier(id)) {
      out.failed.push_back(failure(clip_utf8(id, 64), *u.value, u.time, code::bad_params,
                                   "identifier must be 1 to 50 characters of A-Z a-z 0-9 _"));
      return;
    }
  } else {
    const property* p = model->find_property(id);
    if (p == nullptr) {
      out.failed.push_back(
          failure(clip_utf8(id, 64), *u.value, u.time, code::param_not_in_model,
                  "tsl parse: params not exist -> " + std::string(clip_utf8(id, 64))));
      return;
    }
    spec = &p->spec;
  }
  if (auto v = check_against(spec, id, *u.value, u.time, out.failed)) {
    out.properties.push_back(
        {.identifier = std::string(id), .value = std::move(*v), .time = u.time});
  }
}

// One event occurrence: {"value":{..},"time":ms}, or (as the C and Node SDKs send it) the output
// fields directly, {"ErrorCode":0}, at the time it arrived. The whole event is refused (returned
// code) when it is undefined or neither shape (not an object, or a "value" that is not an
// object); its parameters fail one by one otherwise.
std::error_code check_event(const thing_model* model, std::string_view id, const json::value& raw,
                            time_point now, post_result& out) {
  const event* e = model == nullptr ? nullptr : model->find_event(id);
  if (model != nullptr && e == nullptr) {
    return make_error_code(code::not_defined);
  }
  if (model == nullptr && !valid_identifier(id)) {
    return make_error_code(code::bad_params);
  }
  const json::object* obj = raw.if_object();
  if (obj == nullptr) {
    return make_error_code(code::bad_params);
  }
  const json::value* value = obj->if_contains("value");
  if (value != nullptr && !value->is_object()) {
    return make_error_code(code::bad_params);
  }
  const unwrapped u = value != nullptr ? unwrap(raw, now) : unwrapped{&raw, now, false};
  if (u.bad_time) {
    return make_error_code(code::bad_params);
  }
  event_item item{.identifier = std::string(id), .time = u.time};
  if (e != nullptr) {
    item.name = e->name;
    item.type = std::string(to_string(e->type));
  }
  for (const auto& kv : u.value->get_object()) {
    const std::string_view key = view(kv.key());
    const data_spec* spec = nullptr;
    if (e != nullptr) {
      const auto p = std::find_if(e->output.begin(), e->output.end(),
                                  [&](const param& x) { return x.identifier == key; });
      if (p == e->output.end()) {
        item.failed.push_back(
            failure(clip_utf8(key, 64), kv.value(), u.time, code::param_not_in_model,
                    "tsl parse: params not exist -> " + std::string(clip_utf8(key, 64))));
        continue;
      }
      spec = &p->spec;
    }
    if (auto v = check_against(spec, key, kv.value(), u.time, item.failed)) {
      item.output.emplace(kv.key(), std::move(*v));
    }
  }
  out.events.push_back(std::move(item));
  return {};
}

post_result refused(code c) {
  post_result out;
  out.ec = make_error_code(c);
  return out;
}

// Batch / history posts report a refused event among the dropped values.
void check_event_in_batch(const thing_model* model, std::string_view id, const json::value& raw,
                          time_point now, post_result& out) {
  if (const std::error_code ec = check_event(model, id, raw, now, out)) {
    const code c = static_cast<code>(to_int(ec));
    std::string message = c == code::not_defined ? "tsl parse: event not exist -> "
                                                 : "event must be {\"value\":{..},\"time\":ms} or "
                                                   "its output fields -> ";
    message += clip_utf8(id, 64);
    out.failed.push_back(failure(clip_utf8(id, 64), raw, now, c, std::move(message)));
  }
}

} // namespace

post_result check_property_post(const thing_model* model, const json::value& params, time_point now,
                                const post_limits& limits) {
  const json::object* obj = params.if_object();
  if (obj == nullptr || obj->empty()) {
    return refused(code::bad_params);
  }
  if (obj->size() > limits.max_properties) {
    return refused(code::too_many_properties);
  }
  post_result out;
  out.properties.reserve(obj->size());
  for (const auto& kv : *obj) {
    check_property(model, view(kv.key()), kv.value(), now, out);
  }
  return out;
}

post_result check_event_post(const thing_model* model, std::string_view event_id,
                             const json::value& params, time_point now) {
  post_result out;
  if (const std::error_code ec = check_event(model, event_id, params, now, out)) {
    return refused(static_cast<code>(to_int(ec)));
  }
  return out;
}

post_result check_batch_post(const thing_model* model, const json::value& params, time_point now,
                             const post_limits& limits) {
  const json::value* props = member(params, "properties");
  const json::value* events = member(params, "events");
  const bool props_ok = props == nullptr || props->is_null() || props->is_object();
  const bool events_ok = events == nullptr || events->is_null() || events->is_object();
  if (!params.is_object() || !props_ok || !events_ok) {
    return refused(code::bad_params);
  }
  std::size_t n_props = 0;
  std::size_t n_values = 0;
  std::size_t n_events = 0;
  if (props != nullptr && props->is_object()) {
    n_props = props->get_object().size();
    for (const auto& kv : props->get_object()) {
      if (!kv.value().is_array()) {
        return refused(code::bad_params);
      }
      n_values += kv.value().get_array().size();
    }
  }
  if (events != nullptr && events->is_object()) {
    for (const auto& kv : events->get_object()) {
      if (!kv.value().is_array()) {
        return refused(code::bad_params);
      }
      n_events += kv.value().get_array().size();
    }
  }
  if (n_values + n_events == 0) {
    return refused(code::bad_params);
  }
  if (n_props > limits.max_properties || n_values > limits.max_batch_values) {
    return refused(code::too_many_properties);
  }
  if (n_events > limits.max_batch_events) {
    return refused(code::bad_params);
  }
  post_result out;
  if (n_props != 0) {
    for (const auto& kv : props->get_object()) {
      for (const json::value& v : kv.value().get_array()) {
        check_property(model, view(kv.key()), v, now, out);
      }
    }
  }
  if (n_events != 0) {
    for (const auto& kv : events->get_object()) {
      for (const json::value& v : kv.value().get_array()) {
        check_event_in_batch(model, view(kv.key()), v, now, out);
      }
    }
  }
  return out;
}

post_result check_history_post(const thing_model* model, std::string_view product_key,
                               std::string_view device_name, const json::value& params,
                               time_point now, const post_limits& limits) {
  const json::array* entries = params.if_array();
  if (entries == nullptr || entries->empty()) {
    return refused(code::bad_params);
  }
  // Every entry of this device: its lists of {"id":{"value","time"}} objects.
  std::vector<const json::object*> prop_maps;
  std::vector<const json::object*> event_maps;
  std::size_t n_values = 0;
  std::size_t n_events = 0;
  for (const json::value& entry : *entries) {
    const json::value* identity = member(entry, "identity");
    const json::value* pk = identity == nullptr ? nullptr : member(*identity, "productKey");
    const json::value* dn = identity == nullptr ? nullptr : member(*identity, "deviceName");
    if (pk == nullptr || dn == nullptr || !pk->is_string() || !dn->is_string()) {
      return refused(code::bad_params);
    }
    if (view(pk->get_string()) != product_key || view(dn->get_string()) != device_name) {
      continue;
    }
    for (const auto& [key, maps, count] :
         {std::tuple{"properties", &prop_maps, &n_values}, {"events", &event_maps, &n_events}}) {
      const json::value* list = member(entry, key);
      if (list == nullptr || list->is_null()) {
        continue;
      }
      if (!list->is_array()) {
        return refused(code::bad_params);
      }
      for (const json::value& m : list->get_array()) {
        if (!m.is_object()) {
          return refused(code::bad_params);
        }
        maps->push_back(&m.get_object());
        *count += m.get_object().size();
      }
    }
  }
  if (n_values + n_events == 0) {
    return refused(code::bad_params);
  }
  if (n_values > limits.max_batch_values) {
    return refused(code::too_many_properties);
  }
  if (n_events > limits.max_batch_events) {
    return refused(code::bad_params);
  }
  post_result out;
  for (const json::object* m : prop_maps) {
    for (const auto& kv : *m) {
      check_property(model, view(kv.key()), kv.value(), now, out);
    }
  }
  for (const json::object* m : event_maps) {
    for (const auto& kv : *m) {
      check_event_in_batch(model, view(kv.key()), kv.value(), now, out);
    }
  }
  return out;
}

} // namespace thingport::thing
