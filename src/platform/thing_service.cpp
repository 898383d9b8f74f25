#include "platform/thing_service.hpp"

#include "broker/log_limiter.hpp"

#include <optional>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "auth/login.hpp"
#include "broker/broker.hpp"
#include "platform/device_policy.hpp"
#include "platform/services.hpp"
#include "platform/topology.hpp"
#include "thing/topic.hpp"

namespace thingport::platform {

namespace {

std::string waiter_key(std::string_view pk, std::string_view dn, std::string_view id) {
  std::string k;
  k.reserve(pk.size() + dn.size() + id.size() + 2);
  k.append(pk).append("/").append(dn).append("/").append(id);
  return k;
}

// What the handler reads of a device, straight from the thing store (on the thing thread).
class store_state final : public thing::device_state {
public:
  store_state(store::thing_store& s, std::string_view pk, std::string_view dn)
      : s_(s), pk_(pk), dn_(dn) {}

  thing::result<std::vector<thing::desired_value>>
  desired(std::span<const std::string> identifiers) override {
    auto r = s_.get_desired(pk_, dn_, identifiers);
    if (!r)
      return r.error();
    std::vector<thing::desired_value> out;
    out.reserve(r->size());
    for (auto& d : *r)
      out.push_back({std::move(d.identifier), std::move(d.value), d.version});
    return out;
  }

  thing::result<thing::shadow> current_shadow() override {
    auto r = s_.get_shadow(pk_, dn_);
    if (!r)
      return r.error();
    if (!r->has_value())
      return thing::shadow{};
    return thing::shadow::from_json((*r)->document);
  }

private:
  store::thing_store& s_;
  std::string_view pk_, dn_;
};

std::vector<store::property_value> values_of(const thing::store_properties_action& s) {
  std::vector<store::property_value> v;
  v.reserve(s.items.size());
  for (const auto& p : s.items)
    v.push_back({p.identifier, p.value, p.time});
  return v;
}

std::vector<store::event_record> records_of(const thing::store_events_action& s) {
  std::vector<store::event_record> v;
  v.reserve(s.items.size());
  for (const auto& e : s.items)
    v.push_back({e.identifier, e.type, e.output, e.time});
  return v;
}

constexpr std::size_t max_group = 512; // messages per telemetry transaction

// The one telemetry write of a message whose other actions are publishes and forwards; nullopt
// for any other message (it is carried out on its own).
std::optional<store::thing_write> telemetry_of(std::string_view pk, std::string_view dn,
                                               const thing::handler_result& r) {
  std::optional<store::thing_write> w;
  for (const auto& a : r.actions) {
    if (std::holds_alternative<thing::publish_action>(a) ||
        std::holds_alternative<thing::forward_action>(a))
      continue;
    if (w)
      return std::nullopt; // two writes: one transaction of their own
    const store::device_key key{std::string(pk), std::string(dn)};
    if (const auto* p = std::get_if<thing::store_properties_action>(&a)) {
      w = store::property_write{key, values_of(*p)};
    } else if (const auto* e = std::get_if<thing::store_events_action>(&a)) {
      w = store::event_write{key, records_of(*e)};
    } else {
      return std::nullopt;
    }
  }
  return w;
}

template <class... F> struct overloaded : F... { using F::operator()...; };
template <class... F> overloaded(F...) -> overloaded<F...>;

} // namespace

thing_service::thing_service(broker::broker& b, store::identity_store& identities,
                             store::thing_store& things, thing_service_options o)
    : broker_(b), identities_(identities), things_(things), opts_(std::move(o)) {}

thing_service::~thing_service() {
  stop();
}

void thing_service::start() {
  if (thread_.joinable())
    return;
  thread_ = std::thread([this] { run(); });
}

void thing_service::stop() {
  {
    std::lock_guard lock(queue_mu_);
    stop_ = true;
  }
  queue_cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
  std::lock_guard lock(waiters_mu_);
  waiters_.clear();
}

std::uint8_t thing_service::classify(const client_identity& who, std::string_view topic) const {
  // A cheap first look, so that custom topics (/{pk}/{dn}/...) cost a comparison or two.
  if (topic.size() < 5 || topic[0] != '/')
    return 0;
  if (!topic.starts_with("/sys/") && !topic.starts_with("/ext/") &&
      !topic.starts_with("/shadow/") && !topic.starts_with("/ota/"))
    return 0;
  if (!device_login(who))
    return 0; // applications command devices, they are no device
  return static_cast<std::uint8_t>(thing::classify_topic(topic).kind); // not_thing is 0
}

void thing_service::consume(const std::shared_ptr<const client_identity>& who,
                            const message_ptr& m) {
  {
    std::lock_guard lock(queue_mu_);
    if (queue_.size() >= opts_.max_queue || stop_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    queue_.push_back({who, m});
  }
  queue_cv_.notify_one();
}

void thing_service::run() {
  using clock = std::chrono::steady_clock;
  const bool prune = opts_.prune_interval.count() > 0;
  auto next_prune = clock::now() + opts_.prune_interval;
  std::unique_lock lock(queue_mu_);
  for (;;) {
    const auto ready = [&] { return stop_ || !queue_.empty(); };
    if (prune) {
      queue_cv_.wait_until(lock, next_prune, ready);
    } else {
      queue_cv_.wait(lock, ready);
    }
    if (prune && clock::now() >= next_prune) {
      lock.unlock();
      if (auto n = things_.prune(store::now()); !n)
        spdlog::warn("thing store: prune failed: {}", n.error().message());
      else if (*n != 0)
        spdlog::info("thing store: pruned {} old values, events and downlinks", *n);
      next_prune = clock::now() + opts_.prune_interval;
      lock.lock();
    }
    if (queue_.empty()) {
      if (stop_)
        break;
      continue;
    }
    std::deque<item> batch;
    batch.swap(queue_);
    lock.unlock();
    group g;
    for (const auto& it : batch) {
      try {
        handle(it, g);
      } catch (const std::exception& e) { // bad_alloc and bugs: keep serving the others
        spdlog::error("thing: {} not handled: {}", it.msg->topic, e.what());
      }
    }
    try {
      commit(g);
    } catch (const std::exception& e) {
      spdlog::error("thing: {} messages not handled: {}", g.items.size(), e.what());
    }
    lock.lock();
  }
}

void thing_service::handle(const item& it, group& g) {
  const auto li = device_login(*it.who);
  if (!li)
    return;
  std::string_view pk = li->product_key, dn = li->device_name;
  const auto kind = static_cast<thing::topic_kind>(it.msg->kind); // classify() on the worker
  // A gateway speaking for a sub-device logged in through it (the router let it publish there).
  if (const auto t = thing::classify_topic(it.msg->topic);
      opts_.subs != nullptr && !t.product_key.empty() &&
      (t.product_key != pk || t.device_name != dn) &&
      opts_.subs->is_online_via(t.product_key, t.device_name, pk, dn)) {
    pk = t.product_key;
    dn = t.device_name;
  }
  if (kind == thing::topic_kind::property_pack_post) {
    commit(g); // the replies go out in the order the messages came
    return handle_pack(it, pk, dn);
  }
  // What handle() reads of the device must include the writes before it.
  if (kind == thing::topic_kind::desired_get || kind == thing::topic_kind::shadow_update ||
      g.items.size() >= max_group)
    commit(g);
  const auto m = model(pk);
  store_state state(things_, pk, dn);
  const auto now = store::now();
  auto r = thing::handle(
      {.topic = it.msg->topic, .payload = it.msg->payload, .device = {pk, dn}, .now = now}, m.get(),
      state, opts_.handler);
  handled_.fetch_add(1, std::memory_order_relaxed);
  if (r.ec)
    spdlog::debug("thing: {}/{} {} ({}): {}", pk, dn, it.msg->topic, thing::to_string(r.kind),
                  r.ec.message());
  if (auto w = telemetry_of(pk, dn, r)) {
    g.writes.push_back(std::move(*w));
    g.results.push_back(std::move(r));
    g.items.push_back(&it);
    return;
  }
  commit(g); // the replies go out in the order the messages came
  for (const auto& a : r.actions) {
    if (carry_out(pk, dn, it.msg->qos, a, now))
      continue;
    store_failures_.fetch_add(1, std::memory_order_relaxed);
    if (r.failure_reply)
      send(pk, dn, r.failure_reply->topic, r.failure_reply->payload, it.msg->qos);
    break;
  }
}

void thing_service::handle_pack(const item& it, std::string_view gpk, std::string_view gdn) {
  namespace json = boost::json;
  constexpr std::size_t max_pack_devices = 50; // sub-devices in one pack
  handled_.fetch_add(1, std::memory_order_relaxed);
  const auto parsed =
      thing::parse_request(it.msg->payload, "thing.event.property.pack.post", opts_.handler.json);
  const thing::request& req = parsed.value;
  const std::string reply_topic = thing::reply_topic(it.msg->topic);
  const auto answer = [&](std::error_code ec, std::string_view why = {}) {
    if (req.ack)
      send(gpk, gdn, reply_topic, thing::make_reply(req, ec, json::object{}, why), it.msg->qos);
  };
  if (parsed.ec)
    return answer(parsed.ec);
  // The parts: the gateway's own {"properties","events"}, then each of "subDevices" with its
  // "identity"; each becomes a batch post of that device (values as single items).
  struct part {
    std::string pk, dn;
    json::object params;
  };
  const auto as_batch = [](const json::object& o) {
    json::object out;
    for (const char* key : {"properties", "events"}) {
      const auto* v = o.if_contains(key);
      if (v == nullptr || !v->is_object())
        continue;
      json::object items;
      for (const auto& kv : v->get_object()) {
        const auto* entry = kv.value().if_object();
        json::value one = entry != nullptr && entry->contains("value")
                              ? kv.value()
                              : json::value(json::object{{"value", kv.value()}});
        items[kv.key()] = json::array{std::move(one)};
      }
      out[key] = std::move(items);
    }
    return out;
  };
  const auto* params = req.params.if_object();
  const auto* subs = params != nullptr ? params->if_contains("subDevices") : nullptr;
  if (params == nullptr || (subs != nullptr && !subs->is_array()) ||
      (subs != nullptr && subs->get_array().size() > max_pack_devices))
    return answer(make_error_code(thing::code::bad_params),
                  "params must be {\"properties\",\"events\",\"subDevices\":[at most 50]}");
  std::vector<part> parts;
  if (auto own = as_batch(*params); !own.empty())
    parts.push_back({std::string(gpk), std::string(gdn), std::move(own)});
  if (subs != nullptr) {
    for (const auto& s : subs->get_array()) {
      const auto* o = s.if_object();
      const auto* id = o != nullptr ? o->if_contains("identity") : nullptr;
      const auto* spk =
          id != nullptr && id->is_object() ? id->get_object().if_contains("productKey") : nullptr;
      const auto* sdn =
          id != nullptr && id->is_object() ? id->get_object().if_contains("deviceName") : nullptr;
      if (spk == nullptr || sdn == nullptr || !spk->is_string() || !sdn->is_string())
        return answer(make_error_code(thing::code::bad_params),
                      "each of subDevices needs identity {productKey, deviceName}");
      const std::string_view p = spk->get_string(), d = sdn->get_string();
      if (opts_.subs == nullptr || !opts_.subs->is_online_via(p, d, gpk, gdn))
        return answer(std::error_code(6401, thing::error_category()),
                      "sub-device " + std::string(p) + "/" + std::string(d) +
                          " is not logged in through this gateway");
      parts.push_back({std::string(p), std::string(d), as_batch(*o)});
    }
  }
  if (parts.empty())
    return answer(make_error_code(thing::code::bad_params), "nothing to store");
  // Every part checked (against its own product's thing model) before anything is stored.
  const auto now = store::now();
  std::vector<thing::handler_result> results;
  for (const auto& p : parts) {
    const json::object body{{"id", "0"},
                            {"version", "1.0"},
                            {"params", p.params},
                            {"sys", json::object{{"ack", 0}}},
                            {"method", "thing.event.property.batch.post"}};
    const auto topic = thing::sys_topic(p.pk, p.dn, "thing/event/property/batch/post");
    const auto payload = json::serialize(body);
    const auto m = model(p.pk);
    store_state state(things_, p.pk, p.dn);
    auto r = thing::handle({.topic = topic, .payload = payload, .device = {p.pk, p.dn}, .now = now},
                           m.get(), state, opts_.handler);
    if (r.ec)
      return answer(r.ec, p.pk + "/" + p.dn);
    results.push_back(std::move(r));
  }
  for (std::size_t i = 0; i < parts.size(); ++i)
    for (const auto& a : results[i].actions)
      if (!carry_out(parts[i].pk, parts[i].dn, it.msg->qos, a, now)) {
        store_failures_.fetch_add(1, std::memory_order_relaxed);
        return answer(make_error_code(thing::code::server_error));
      }
  answer({});
}

void thing_service::commit(group& g) {
  if (g.items.empty())
    return;
  const auto done = things_.write(g.writes, store::now());
  for (std::size_t i = 0; i < g.items.size(); ++i) {
    const item& it = *g.items[i];
    const auto li = device_login(*it.who);
    const std::error_code ec = !done ? done.error() : (*done)[i];
    const auto& r = g.results[i];
    if (ec == store::make_error_code(store::thing_errc::too_many_properties)) {
      // A bound, not a failure of the store: counted apart, logged at a bounded rate.
      properties_refused_.fetch_add(1, std::memory_order_relaxed);
      if (auto n = refused_log_.admit())
        spdlog::info("thing: {}/{}: values refused: {}{}", li->product_key, li->device_name,
                     ec.message(), broker::suppressed_note(*n));
      if (r.failure_reply)
        send(li->product_key, li->device_name, r.failure_reply->topic, r.failure_reply->payload,
             it.msg->qos);
      continue;
    }
    if (ec) {
      store_failures_.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("thing: {}/{}: values not stored: {}", li->product_key, li->device_name,
                   ec.message());
      if (r.failure_reply)
        send(li->product_key, li->device_name, r.failure_reply->topic, r.failure_reply->payload,
             it.msg->qos);
      continue;
    }
    for (const auto& a : r.actions)
      if (std::holds_alternative<thing::publish_action>(a) ||
          std::holds_alternative<thing::forward_action>(a))
        carry_out(li->product_key, li->device_name, it.msg->qos, a, {});
  }
  g.writes.clear();
  g.results.clear();
  g.items.clear();
}

bool thing_service::carry_out(std::string_view pk, std::string_view dn, std::uint8_t qos,
                              const thing::action& a, store::timestamp now) {
  const auto failed = [&](const char* what, const std::error_code& ec) {
    spdlog::warn("thing: {}/{}: {} not stored: {}", pk, dn, what, ec.message());
    return false;
  };
  return std::visit(
      overloaded{
          [&](const thing::publish_action& p) {
            send(pk, dn, p.topic, p.payload, qos);
            return true;
          },
          [&](const thing::forward_action& f) {
            forward(f.topic, f.payload);
            return true;
          },
          [&](const thing::store_properties_action& s) {
            auto r = things_.append_properties(pk, dn, values_of(s), now);
            return r ? true : failed("properties", r.error());
          },
          [&](const thing::store_events_action& s) {
            auto r = things_.append_events(pk, dn, records_of(s), now);
            return r ? true : failed("events", r.error());
          },
          [&](const thing::set_attributes_action& s) {
            std::vector<store::device_attribute> v;
            v.reserve(s.items.size());
            for (const auto& at : s.items)
              v.push_back({at.key, at.value, now});
            auto r = things_.set_attributes(pk, dn, v);
            return r ? true : failed("device info", r.error());
          },
          [&](const thing::delete_attributes_action& s) {
            auto r = things_.delete_attributes(pk, dn, s.keys);
            return r ? true : failed("device info removal", r.error());
          },
          [&](const thing::delete_desired_action& s) {
            std::vector<store::desired_removal> v;
            v.reserve(s.items.size());
            for (const auto& d : s.items)
              v.push_back({d.identifier, d.version});
            auto r = things_.delete_desired(pk, dn, v);
            return r ? true : failed("desired removal", r.error());
          },
          [&](const thing::store_shadow_action& s) {
            auto r = things_.put_shadow(pk, dn, {s.document, s.version, now}, s.expected_version);
            return r ? true : failed("shadow", r.error());
          },
          [&](const thing::complete_downlink_action& c) {
            auto r = things_.complete_downlink(pk, dn, c.id, store::downlink_outcome::success,
                                               c.code, c.reply, now);
            if (!r && r.error() != store::errc::not_found)
              spdlog::warn("thing: {}/{}: reply to {} not recorded: {}", pk, dn, c.id,
                           r.error().message());
            wake(pk, dn, c.id, {c.code, c.reply});
            return true; // a reply is never answered: nothing to fail
          },
          [&](const thing::topology_action& t) {
            const auto answer = serve_topology(identities_, opts_.subs, opts_.gateways, pk, dn,
                                               t.kind, t.req.params);
            if (t.req.ack)
              send(pk, dn, t.reply_topic,
                   thing::make_reply(t.req, answer.code, answer.data, answer.message), qos);
            for (const auto& [g, subs] : answer.left) // moved to this gateway: status 1
              send_topo_change(broker_, g.product_key, g.device_name, services::topo_removed, subs);
            return true; // answered either way; nothing for the thing store to roll back
          },
          [&](const thing::ota_version_action& o) {
            spdlog::debug("thing: {}/{} reports firmware {} of module {}", pk, dn, o.value.version,
                          o.value.module);
            auto r = things_.record_firmware(pk, dn, {o.value.module, o.value.version, now});
            return r ? true : failed("firmware version", r.error());
          },
      },
      a);
}

std::shared_ptr<const thing::thing_model> thing_service::model(std::string_view pk) {
  {
    std::lock_guard lock(models_mu_);
    if (auto it = models_.find(pk); it != models_.end())
      return it->second;
  }
  std::shared_ptr<const thing::thing_model> m;
  auto stored = identities_.get_thing_model(pk);
  if (!stored) {
    // Not cached: the next message tries again.
    if (stored.error() != store::errc::not_found)
      spdlog::warn("thing: product {}: thing model not readable: {}", pk, stored.error().message());
    return nullptr;
  }
  if (stored->has_value()) {
    auto parsed = thing::parse_tsl(**stored);
    if (parsed) {
      m = std::move(parsed.model);
    } else {
      spdlog::warn("thing: product {}: stored thing model refused ({}: {}); values are taken as "
                   "they come",
                   pk, parsed.error.path, parsed.error.message);
    }
  }
  std::lock_guard lock(models_mu_);
  // A set_model() in between wins: it is newer than what was read.
  return models_.try_emplace(std::string(pk), std::move(m)).first->second;
}

void thing_service::set_model(std::string_view pk, std::shared_ptr<const thing::thing_model> m) {
  std::lock_guard lock(models_mu_);
  models_.insert_or_assign(std::string(pk), std::move(m));
}

void thing_service::forget_model(std::string_view pk) {
  std::lock_guard lock(models_mu_);
  if (auto it = models_.find(pk); it != models_.end())
    models_.erase(it);
}

void thing_service::send(std::string_view pk, std::string_view dn, std::string_view topic,
                         std::string_view payload, std::uint8_t qos) {
  broker_.publish_to(
      auth::device_session_key(pk, dn),
      make_message(topic, payload, qos, false, qos > 0 ? broker_.next_message_id() : 0));
}

void thing_service::forward(std::string_view topic, std::string_view payload) {
  broker_.publish(make_message(topic, payload, 1, false, broker_.next_message_id()));
}

void thing_service::await_reply(std::string_view pk, std::string_view dn, std::string_view id,
                                waiter w) {
  std::lock_guard lock(waiters_mu_);
  waiters_.insert_or_assign(waiter_key(pk, dn, id), std::move(w));
}

bool thing_service::forget(std::string_view pk, std::string_view dn, std::string_view id) {
  std::lock_guard lock(waiters_mu_);
  return waiters_.erase(waiter_key(pk, dn, id)) != 0;
}

void thing_service::wake(std::string_view pk, std::string_view dn, std::string_view id,
                         downlink_reply r) {
  waiter w;
  {
    std::lock_guard lock(waiters_mu_);
    auto it = waiters_.find(waiter_key(pk, dn, id));
    if (it == waiters_.end())
      return;
    w = std::move(it->second);
    waiters_.erase(it);
  }
  w(r);
}

} // namespace thingport::platform
