#include "cluster/session_wire.hpp"

#include <boost/json.hpp>

#include "auth/base64.hpp"
#include "mqtt/topic.hpp"

namespace thingport::cluster {

namespace json = boost::json;

namespace {

const json::value* field(const json::object& o, std::string_view k) {
  return o.if_contains(k);
}

std::optional<std::string> str(const json::object& o, std::string_view k, bool may_be_empty) {
  const auto* v = field(o, k);
  if (v == nullptr || !v->is_string())
    return std::nullopt;
  const auto& s = v->get_string();
  if (s.size() > max_wire_string || (s.empty() && !may_be_empty))
    return std::nullopt;
  return std::string(s);
}

std::optional<std::uint64_t> u64(const json::value& v) {
  if (v.is_uint64())
    return v.get_uint64();
  if (v.is_int64() && v.get_int64() >= 0)
    return static_cast<std::uint64_t>(v.get_int64());
  return std::nullopt;
}

std::optional<bool> flag(const json::object& o, std::string_view k) {
  const auto* v = field(o, k);
  if (v == nullptr)
    return false;
  if (!v->is_bool())
    return std::nullopt;
  return v->get_bool();
}

std::optional<json::object> parse_object(std::string_view body) {
  json::error_code ec;
  json::parse_options po;
  po.max_depth = 8;
  auto v = json::parse(body, ec, {}, po);
  if (ec || !v.is_object())
    return std::nullopt;
  return std::move(v.as_object());
}

// What every message carries: the claim's id, the sending node, the session key.
struct head {
  std::uint64_t id = 0;
  std::string node;
  std::string key;
};

std::optional<head> read_head(const json::object& o) {
  const auto* id = field(o, "id");
  auto idv = id != nullptr ? u64(*id) : std::nullopt;
  auto node = str(o, "node", false);
  auto key = str(o, "key", false);
  if (!idv || !node || !key || !mqtt::valid_utf8(*key))
    return std::nullopt;
  return head{*idv, std::move(*node), std::move(*key)};
}

} // namespace

std::string encode_claim(const claim_request& c) {
  return json::serialize(json::object{
      {"id", c.id}, {"node", c.node}, {"key", c.key}, {"reply", c.reply}, {"clean", c.clean}});
}

std::optional<claim_request> decode_claim(std::string_view body) {
  auto o = parse_object(body);
  if (!o)
    return std::nullopt;
  auto h = read_head(*o);
  auto reply = str(*o, "reply", false);
  auto clean = flag(*o, "clean");
  if (!h || !reply || !clean)
    return std::nullopt;
  claim_request c;
  c.id = h->id;
  c.node = std::move(h->node);
  c.key = std::move(h->key);
  c.reply = std::move(*reply);
  c.clean = *clean;
  return c;
}

std::vector<std::string> encode_handover(std::uint64_t id, std::string_view node,
                                         std::string_view key, const broker::session_snapshot* s,
                                         std::size_t part_bytes) {
  std::vector<std::string> parts;
  json::array subs;
  json::array msgs;
  std::size_t bytes = 0;
  const auto emit = [&](bool last) {
    json::object o{
        {"id", id}, {"node", node}, {"key", key}, {"last", last}, {"present", s != nullptr}};
    if (!subs.empty())
      o["subs"] = std::move(subs);
    if (!msgs.empty())
      o["msgs"] = std::move(msgs);
    parts.push_back(json::serialize(o));
    subs = json::array();
    msgs = json::array();
    bytes = 0;
  };
  if (s != nullptr) {
    for (const auto& sub : s->subscriptions) {
      if (bytes != 0 && bytes + sub.filter.size() > part_bytes)
        emit(false);
      subs.push_back(json::array{json::string(sub.filter), sub.qos});
      bytes += sub.filter.size() + 8;
    }
    for (const auto& m : s->messages) {
      const auto size = m.topic.size() + m.payload.size() * 4 / 3 + 16;
      if (bytes != 0 && bytes + size > part_bytes)
        emit(false);
      msgs.push_back(json::array{json::string(m.topic),
                                 json::string(auth::base64_encode(m.payload)), m.qos, m.retain});
      bytes += size;
    }
  }
  emit(true);
  return parts;
}

std::optional<handover_part> decode_handover(std::string_view body) {
  auto o = parse_object(body);
  if (!o)
    return std::nullopt;
  auto h = read_head(*o);
  auto last = flag(*o, "last");
  auto present = flag(*o, "present");
  if (!h || !last || !present)
    return std::nullopt;
  handover_part p;
  p.id = h->id;
  p.node = std::move(h->node);
  p.key = std::move(h->key);
  p.last = *last;
  p.present = *present;
  p.session.key = p.key;
  const auto list = [&](std::string_view k) -> std::optional<const json::array*> {
    const auto* v = field(*o, k);
    if (v == nullptr)
      return static_cast<const json::array*>(nullptr);
    if (!v->is_array() || v->get_array().size() > max_wire_entries || !p.present)
      return std::nullopt;
    return &v->get_array();
  };
  auto subs = list("subs");
  auto msgs = list("msgs");
  if (!subs || !msgs)
    return std::nullopt;
  if (*subs != nullptr) {
    for (const auto& e : **subs) {
      if (!e.is_array() || e.get_array().size() != 2)
        return std::nullopt;
      const auto& a = e.get_array();
      const auto q = u64(a[1]);
      if (!a[0].is_string() || a[0].get_string().size() > max_wire_string ||
          !mqtt::valid_topic_filter(a[0].get_string()) || !q || *q > 2)
        return std::nullopt;
      p.session.subscriptions.push_back(
          {std::string(a[0].get_string()), static_cast<std::uint8_t>(*q)});
    }
  }
  if (*msgs != nullptr) {
    for (const auto& e : **msgs) {
      if (!e.is_array() || e.get_array().size() != 4)
        return std::nullopt;
      const auto& a = e.get_array();
      const auto q = u64(a[2]);
      if (!a[0].is_string() || a[0].get_string().size() > max_wire_string ||
          !mqtt::valid_topic_name(a[0].get_string()) || !a[1].is_string() || !q || *q < 1 ||
          *q > 2 || !a[3].is_bool())
        return std::nullopt;
      auto payload = auth::base64_decode(a[1].get_string());
      if (!payload)
        return std::nullopt;
      p.session.messages.push_back({std::string(a[0].get_string()), std::move(*payload),
                                    static_cast<std::uint8_t>(*q), a[3].get_bool()});
    }
  }
  return p;
}

std::vector<std::string> encode_offers(std::string_view node, const std::vector<std::string>& keys,
                                       std::size_t max_bytes) {
  std::vector<std::string> out;
  json::array batch;
  std::size_t bytes = 0;
  const auto emit = [&] {
    out.push_back(json::serialize(json::object{{"node", node}, {"keys", std::move(batch)}}));
    batch = json::array();
    bytes = 0;
  };
  for (const auto& k : keys) {
    if (bytes != 0 && bytes + k.size() + 8 > max_bytes)
      emit();
    batch.push_back(json::string(k));
    bytes += k.size() + 8;
  }
  if (!batch.empty())
    emit();
  return out;
}

std::optional<session_offer> decode_offer(std::string_view body) {
  auto o = parse_object(body);
  if (!o)
    return std::nullopt;
  auto node = str(*o, "node", false);
  const auto* keys = field(*o, "keys");
  if (!node || keys == nullptr || !keys->is_array() || keys->get_array().size() > max_wire_entries)
    return std::nullopt;
  session_offer offer{std::move(*node), {}};
  for (const auto& k : keys->get_array()) {
    if (!k.is_string() || k.get_string().empty() || k.get_string().size() > max_wire_string ||
        !mqtt::valid_utf8(k.get_string()))
      return std::nullopt;
    offer.keys.emplace_back(k.get_string());
  }
  return offer;
}

} // namespace thingport::cluster
