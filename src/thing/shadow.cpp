#include "thing/shadow.hpp"

#include "thing/code.hpp"

namespace thingport::thing {

namespace json = boost::json;

namespace {

std::int64_t seconds(time_point t) noexcept {
  return to_ms(t) / 1000;
}

std::string_view error_message(int code) noexcept {
  switch (code) {
  case 400:
    return "Invalid JSON format.";
  case 401:
    return "The method field is missing.";
  case 402:
    return "The state field is missing.";
  case 403:
    return "Invalid version field.";
  case 404:
    return "The reported field is missing.";
  case 405:
    return "The reported field is blank.";
  case 406:
    return "Invalid method field.";
  case 407:
    return "The JSON file is empty.";
  case 408:
    return "The reported field contains more than 128 attributes.";
  case 409:
    return "Version conflict.";
  default:
    return "Server exception.";
  }
}

shadow_outcome failed(int code, time_point now) {
  return {.code = code, .reply = shadow::error_reply(code, now), .updated = std::nullopt};
}

// "null" (string) or JSON null: remove.
bool is_null(const json::value& v) noexcept {
  return v.is_null() || (v.is_string() && v.get_string() == "null");
}

// Merges `changes` into a section and its metadata: null values remove, others set.
void merge(json::object& section, json::object& meta, const json::object& changes,
           std::int64_t ts) {
  for (const auto& kv : changes) {
    if (is_null(kv.value())) {
      section.erase(kv.key());
      meta.erase(kv.key());
    } else {
      section[kv.key()] = kv.value();
      meta[kv.key()] = json::object{{"timestamp", ts}};
    }
  }
}

// Removes the attributes `changes` sets to null; other values are ignored.
void remove_nulls(json::object& section, json::object& meta, const json::object& changes) {
  for (const auto& kv : changes) {
    if (is_null(kv.value())) {
      section.erase(kv.key());
      meta.erase(kv.key());
    }
  }
}

json::object copy_object(const json::value* v) {
  return v != nullptr && v->is_object() ? v->get_object() : json::object{};
}

} // namespace

result<shadow> shadow::from_json(std::string_view document) {
  auto doc = parse_json(document, {.max_bytes = 4 * max_shadow_bytes, .max_depth = 32});
  if (!doc || !doc->is_object()) {
    return make_error_code(code::bad_request);
  }
  shadow s;
  const json::value* state = member(*doc, "state");
  const json::value* meta = member(*doc, "metadata");
  s.reported_ = copy_object(state == nullptr ? nullptr : member(*state, "reported"));
  s.desired_ = copy_object(state == nullptr ? nullptr : member(*state, "desired"));
  s.reported_meta_ = copy_object(meta == nullptr ? nullptr : member(*meta, "reported"));
  s.desired_meta_ = copy_object(meta == nullptr ? nullptr : member(*meta, "desired"));
  const json::value* version = member(*doc, "version");
  const json::value* ts = member(*doc, "timestamp");
  s.version_ = version == nullptr ? 0 : as_int64(*version).value_or(0);
  s.timestamp_ = ts == nullptr ? 0 : as_int64(*ts).value_or(0);
  return s;
}

json::object shadow::state_payload(bool with_status) const {
  json::object state;
  json::object meta;
  if (!reported_.empty()) {
    state.emplace("reported", reported_);
    meta.emplace("reported", reported_meta_);
  }
  if (!desired_.empty()) {
    state.emplace("desired", desired_);
    meta.emplace("desired", desired_meta_);
  }
  json::object out;
  if (with_status) {
    out.emplace("status", "success");
  }
  out.emplace("state", std::move(state));
  out.emplace("metadata", std::move(meta));
  return out;
}

std::string shadow::to_json() const {
  json::object doc = state_payload(false);
  doc.emplace("timestamp", timestamp_);
  doc.emplace("version", version_);
  return thing::to_json(doc);
}

std::string shadow::error_reply(int code, time_point now) {
  const std::string_view text = error_message(code);
  json::object content;
  content.emplace("errorcode", std::to_string(code));
  content.emplace("errormessage", json::string_view(text.data(), text.size()));
  json::object payload;
  payload.emplace("status", "error");
  payload.emplace("content", std::move(content));
  json::object reply;
  reply.emplace("method", "reply");
  reply.emplace("payload", std::move(payload));
  reply.emplace("timestamp", seconds(now));
  return thing::to_json(reply);
}

shadow_outcome shadow::apply(std::string_view payload, time_point now) const {
  if (payload.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return failed(407, now);
  }
  auto doc = parse_json(payload, {.max_bytes = max_shadow_bytes, .max_depth = 16});
  if (!doc || !doc->is_object()) {
    return failed(400, now);
  }
  const json::object& req = doc->get_object();
  if (req.empty()) {
    return failed(407, now);
  }
  const json::value* method = req.if_contains("method");
  if (method == nullptr || !method->is_string()) {
    return failed(401, now);
  }
  const json::string& m = method->get_string();
  const std::int64_t ts = seconds(now);
  if (m == "get") {
    json::object reply;
    reply.emplace("method", "reply");
    reply.emplace("payload", state_payload(true));
    reply.emplace("version", version_);
    reply.emplace("timestamp", ts);
    return {.code = 200, .reply = thing::to_json(reply), .updated = std::nullopt};
  }
  if (m != "update" && m != "delete") {
    return failed(406, now);
  }
  const json::value* state = req.if_contains("state");
  if (state == nullptr || !state->is_object()) {
    return failed(402, now);
  }
  std::int64_t version = version_ + 1;
  if (const json::value* v = req.if_contains("version"); v != nullptr) {
    const auto n = as_int64(*v);
    if (!n || v->is_double()) {
      return failed(403, now);
    }
    version = *n;
  }
  if (version <= version_) {
    return failed(409, now);
  }
  const json::value* reported = state->get_object().if_contains("reported");
  const json::value* desired = state->get_object().if_contains("desired");
  if (reported == nullptr && desired == nullptr) {
    return failed(404, now);
  }
  shadow next = *this;
  const bool update = m == "update";
  for (const auto& [section, meta, change] :
       {std::tuple{&next.reported_, &next.reported_meta_, reported},
        std::tuple{&next.desired_, &next.desired_meta_, desired}}) {
    if (change == nullptr) {
      continue;
    }
    if (is_null(*change)) {
      section->clear();
      meta->clear();
    } else if (!change->is_object()) {
      return failed(400, now);
    } else if (change->get_object().empty()) {
      return failed(405, now);
    } else if (update) {
      merge(*section, *meta, change->get_object(), ts);
    } else {
      remove_nulls(*section, *meta, change->get_object());
    }
  }
  if (next.reported_.size() > max_shadow_attributes ||
      next.desired_.size() > max_shadow_attributes) {
    return failed(408, now);
  }
  next.version_ = version;
  next.timestamp_ = ts;
  if (next.to_json().size() > max_shadow_bytes) {
    return failed(400, now);
  }
  json::object payload_out;
  payload_out.emplace("status", "success");
  payload_out.emplace("version", version);
  json::object reply;
  reply.emplace("method", "reply");
  reply.emplace("payload", std::move(payload_out));
  reply.emplace("timestamp", ts);
  return {.code = 200, .reply = thing::to_json(reply), .updated = std::move(next)};
}

shadow_outcome shadow::set_desired(const json::object& desired, time_point now) const {
  shadow next = *this;
  const std::int64_t ts = seconds(now);
  merge(next.desired_, next.desired_meta_, desired, ts);
  if (next.desired_.size() > max_shadow_attributes) {
    return failed(408, now);
  }
  next.version_ = version_ + 1;
  next.timestamp_ = ts;
  if (next.to_json().size() > max_shadow_bytes) {
    return failed(400, now);
  }
  json::object control;
  control.emplace("method", "control");
  control.emplace("payload", next.state_payload(true));
  control.emplace("version", next.version_);
  control.emplace("timestamp", ts);
  return {.code = 200, .reply = thing::to_json(control), .updated = std::move(next)};
}

} // namespace thingport::thing
