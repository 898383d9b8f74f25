#include "cluster/node.hpp"

#include <openssl/rand.h>

#include <nats/nats.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <spdlog/spdlog.h>
#include <stdexcept>

#include "broker/broker.hpp"
#include "cluster/failover.hpp"
#include "cluster/nats_link.hpp"
#include "cluster/open_subscriptions.hpp"
#include "cluster/stop_thread.hpp"
#include "cluster/subject.hpp"

namespace thingport::cluster {

namespace {

constexpr std::string_view heartbeat_prefix = "thingport.node.";
constexpr const char* heartbeat_all = "thingport.node.>";
constexpr const char* registry_subject = "thingport.registry";
constexpr int confirm_within_ms = 2000;        // a held SUBACK goes anyway after this
constexpr int drain_within_ms = 1000;          // at shutdown, per subscription (in parallel)
constexpr std::size_t max_control = 64 * 1024; // a takeover key, a claim or a registry change
constexpr std::size_t max_handover = 4u << 20; // a part of a session moving here
constexpr unsigned max_drain_rate = 100'000;   // links closed per second, at most

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> r(bytes);
  if (RAND_bytes(r.data(), static_cast<int>(r.size())) != 1)
    throw std::runtime_error("RAND_bytes failed");
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  for (auto c : r) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

std::uint64_t json_u64(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr)
    return 0;
  if (v->is_uint64())
    return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0)
    return static_cast<std::uint64_t>(v->as_int64());
  return 0;
}

std::string json_str(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

} // namespace

node::node(broker::broker& b, node_options o)
    : broker_(b), opts_(std::move(o)), members_(opts_.name),
      origin_(opts_.name + "/" + random_hex(8)), impl_(std::make_unique<impl>()) {
  handover_subject_ = std::string(handover_prefix) + origin_;
  std::replace(handover_subject_.begin(), handover_subject_.end(), '/', '.');
}

node::~node() {
  stop();
}

void node::set_connected(bool up, const char* how) {
  if (!up)
    retained_synced_.store(false, std::memory_order_release); // read it again once back
  if (up)
    linked_at_.store(steady::now().time_since_epoch().count(), std::memory_order_release);
  const bool was = connected_.exchange(up, std::memory_order_acq_rel);
  if (up == was || closing_.load(std::memory_order_acquire))
    return;
  if (up) {
    spdlog::info("cluster: {} NATS ({}); node {} takes logins", how, opts_.servers, name());
  } else {
    spdlog::warn("cluster: NATS unreachable ({}); new logins are refused with CONNACK 3 "
                 "(server unavailable) until it is back",
                 opts_.servers);
  }
}

void node::start() {
  nats_SetMessageDeliveryPoolSize(1); // one delivery thread for all subscriptions: wire order
  auto check = [](natsStatus s, const char* what) {
    if (s != NATS_OK)
      throw std::runtime_error(std::string("cluster: ") + what + ": " + natsStatus_GetText(s));
  };
  check(natsOptions_Create(&impl_->opts), "options");
  auto* o = impl_->opts;
  std::vector<std::string> urls; // "nats://h1:4222,nats://h2:4222": one entry each
  for (std::size_t at = 0; at <= opts_.servers.size();) {
    const auto comma = std::min(opts_.servers.find(',', at), opts_.servers.size());
    urls.push_back(opts_.servers.substr(at, comma - at));
    at = comma + 1;
  }
  std::vector<const char*> list;
  for (const auto& u : urls)
    list.push_back(u.c_str());
  check(natsOptions_SetServers(o, list.data(), static_cast<int>(list.size())), "[cluster] nats");
  check(natsOptions_SetName(o, ("thingport " + name()).c_str()), "name");
  check(natsOptions_SetNoEcho(o, true), "no echo"); // our own messages are delivered already
  check(natsOptions_UseGlobalMessageDelivery(o, true), "delivery");
  check(natsOptions_SetMaxReconnect(o, -1), "reconnect");
  check(natsOptions_SetReconnectWait(o, 250), "reconnect wait");
  check(natsOptions_SetReconnectJitter(o, 100, 1000), "reconnect jitter");
  check(natsOptions_SetPingInterval(o, 2000), "ping");
  check(natsOptions_SetMaxPingsOut(o, 2), "pings out");
  check(natsOptions_SetTimeout(o, 2000), "timeout");
  check(natsOptions_SetDisconnectedCB(
            o, [](natsConnection*, void* c) { static_cast<node*>(c)->set_connected(false, ""); },
            this),
        "callback");
  check(natsOptions_SetReconnectedCB(
            o,
            [](natsConnection*, void* c) { static_cast<node*>(c)->set_connected(true, "back on"); },
            this),
        "callback");
  check(natsOptions_SetRetryOnFailedConnect(
            o, true,
            [](natsConnection*, void* c) { static_cast<node*>(c)->set_connected(true, "joined"); },
            this),
        "retry");
  const auto s = natsConnection_Connect(&impl_->conn, o);
  if (s == NATS_OK) {
    set_connected(true, "joined");
  } else if (s == NATS_NOT_YET_CONNECTED) {
    spdlog::warn("cluster: NATS ({}) not reachable yet; new logins are refused with CONNACK 3 "
                 "until it is",
                 opts_.servers);
  } else {
    check(s, "connecting to NATS");
  }
  // Retained messages go to JetStream with an acknowledgement (once the stream is there): one
  // JetStream could not keep is counted and said, not lost silently.
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = retained_wait_ms;
  jo.PublishAsync.MaxPending = 10'000;
  jo.PublishAsync.StallWait = 50;
  jo.PublishAsync.ErrHandler = [](jsCtx*, jsPubAckErr* pae, void* c) {
    auto& n = *static_cast<node*>(c);
    const auto count = n.stats_.retained_unkept.fetch_add(1, std::memory_order_relaxed) + 1;
    if (count == 1 || count % 1000 == 0)
      spdlog::warn("cluster: JetStream did not keep a retained message ({}; {} so far): the "
                   "nodes have it, a node started later will not",
                   pae->ErrText != nullptr ? pae->ErrText : natsStatus_GetText(pae->Err), count);
  };
  jo.PublishAsync.ErrHandlerClosure = this;
  check(natsConnection_JetStream(&impl_->js, impl_->conn, &jo), "JetStream context");
  const auto handler = [](natsConnection* nc, natsSubscription* sub, natsMsg* m, void* c) {
    on_message(nc, sub, m, c);
  };
  for (const char* subject : {heartbeat_all, takeover_subject, registry_subject, retained_all,
                              claim_subject, offer_subject, handover_subject_.c_str()}) {
    natsSubscription* sub = nullptr;
    check(natsConnection_Subscribe(&sub, impl_->conn, subject, handler, this), subject);
    open_subscriptions::get().watch(sub);
    impl_->control.push_back(sub);
  }
  offer_restored(); // queued: sent once NATS is reached
  thread_ = std::thread([this] { run(); });
  retained_thread_ = std::thread([this] { retained_loop(); });
}

void node::stop() {
  stop_thread(rmu_, rcv_, rstop_, retained_thread_); // before the connection goes
  if (!stop_thread(mu_, cv_, stopping_, thread_))
    return;
  closing_.store(true, std::memory_order_release);
  if (impl_->conn != nullptr) {
    // The last heartbeat says this node left: the others stop listing it at once. Its links
    // are closed and their records gone by now (serve stops the workers and failover first).
    heartbeat(true);
    // Drain every subscription first: the server stops sending, and each message already read
    // (queued for the delivery thread) goes through on_message, which destroys it. Closing with
    // messages still queued left one of them to the library's shutdown, which can lose it.
    std::vector<natsSubscription*> all(impl_->control), draining;
    for (auto& [subject, s] : impl_->subs)
      all.push_back(s);
    for (auto* s : all)
      if (natsSubscription_DrainTimeout(s, drain_within_ms) == NATS_OK)
        draining.push_back(s);
    natsConnection_FlushTimeout(impl_->conn, 1000);
    for (auto* s : draining)
      if (natsSubscription_WaitForDrainCompletion(s, drain_within_ms) != NATS_OK)
        spdlog::warn("cluster: a subscription did not drain within {} ms", drain_within_ms);
    natsConnection_Close(impl_->conn);
    if (const auto left = open_subscriptions::get().wait(std::chrono::milliseconds(2000)); left)
      spdlog::warn("cluster: {} NATS subscriptions not completed 2 s after closing", left);
  }
  impl_.reset(); // subscriptions, connection, options
  if (const auto s = nats_CloseAndWait(2000); s != NATS_OK)
    spdlog::warn("cluster: the NATS library did not shut down: {}", natsStatus_GetText(s));
}

void node::push(item it, bool bounded) {
  bool wake = false;
  bool dropped = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_)
      return;
    dropped = bounded && queued_messages_ >= opts_.max_queued;
    if (!dropped) {
      // The link thread waits only for an empty queue: wake it on the first item alone (one
      // futex call per batch, not per message).
      wake = queue_.empty() && confirms_.empty();
      if (bounded)
        ++queued_messages_;
      queue_.push_back(std::move(it));
    }
  }
  if (dropped) {
    stats_.dropped.fetch_add(1, std::memory_order_relaxed);
    if (it.retain && it.message) // a retained one goes again after the next sync
      note_unsent_retained(it.message->topic);
  }
  if (wake)
    cv_.notify_one();
}

void node::published(const broker::message_ptr& m, bool retain) {
  auto subject = subject_of_topic(m->topic, retain);
  if (!subject) {
    stats_.dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  push({op::publish, std::move(*subject), {}, m->qos, retain, m}, true);
}

void node::interest(std::string_view filter, bool added) {
  auto subjects = subjects_of_filter(filter);
  std::vector<item> changes;
  {
    std::lock_guard lock(mu_);
    if (stopping_)
      return;
    for (auto& s : subjects) {
      if (added) {
        if (interest_[s]++ == 0)
          changes.push_back({op::subscribe, std::move(s), {}, 0, false});
        continue;
      }
      auto it = interest_.find(s);
      if (it == interest_.end())
        continue;
      if (--it->second == 0) {
        interest_.erase(it);
        changes.push_back({op::unsubscribe, std::move(s), {}, 0, false});
      }
    }
    for (auto& c : changes)
      queue_.push_back(std::move(c));
  }
  if (!changes.empty())
    cv_.notify_one();
}

void node::confirm(std::function<void(bool)> done) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_)
      return;
    wake = queue_.empty() && confirms_.empty();
    confirms_.push_back(std::move(done));
  }
  if (wake)
    cv_.notify_one();
}

void node::link_up(const broker::client_identity& who, std::string_view key, std::uint64_t serial,
                   const mqtt::will_message* will) {
  {
    std::lock_guard lock(links_mu_);
    links_[serial] = std::string(key);
  }
  if (failover_ != nullptr)
    failover_->link_up(who, key, serial, will);
}

void node::link_down(std::uint64_t serial) {
  {
    std::lock_guard lock(links_mu_);
    links_.erase(serial);
  }
  if (failover_ != nullptr)
    failover_->link_down(serial);
}

void node::announce(const registry_change& c) {
  const boost::json::object o{{"kind", c.kind}, {"a", c.a}, {"b", c.b}};
  push({op::control, registry_subject, boost::json::serialize(o), 0, false}, false);
}

bool node::drain(unsigned per_second) {
  {
    std::lock_guard lock(links_mu_);
    if (draining_.load(std::memory_order_acquire))
      return false;
    drain_rate_ = std::clamp(per_second, 1u, max_drain_rate);
    draining_.store(true, std::memory_order_release);
    spdlog::warn("cluster: node {} drains: new logins refused (CONNACK 3), its {} links closed "
                 "at {} per second",
                 name(), links_.size(), drain_rate_);
  }
  {
    std::lock_guard lock(mu_);
    drain_kick_ = true;
  }
  cv_.notify_all(); // the link thread paces the closes, the first at once
  return true;
}

void node::close_some(steady::time_point now) {
  std::vector<std::string> keys;
  {
    std::lock_guard lock(links_mu_);
    if (links_.empty())
      return;
    if (!drain_pacer_)
      drain_pacer_.emplace(drain_rate_); // close k at (first close) + k / rate
    for (auto n = drain_pacer_->take(now); n > 0 && !links_.empty(); --n) {
      auto first = links_.begin();
      keys.push_back(std::move(first->second));
      links_.erase(first);
    }
  }
  for (const auto& k : keys)
    broker_.disconnect(k, broker::close_reason::draining, false);
}

std::vector<node_status> node::nodes() const {
  node_status self;
  self.draining = draining();
  if (opts_.load) {
    const auto l = opts_.load();
    self.connections = l.connections;
    self.devices_online = l.devices_online;
  }
  return members_.list(std::move(self), steady::now());
}

void node::run() {
  auto next_beat = steady::now();
  std::vector<item> batch;
  std::vector<std::function<void(bool)>> confirms;
  for (;;) {
    // Outside mu_: a claim let go sends its takeover (push takes mu_).
    const auto claims_due = expire_claims(steady::now(), steady::time_point::max());
    {
      std::unique_lock lock(mu_);
      auto wake = next_beat;
      if (drain_pacer_) {
        std::lock_guard links(links_mu_);
        if (!links_.empty())
          wake = std::min(wake, drain_pacer_->next());
      }
      wake = std::min(wake, claims_due);
      cv_.wait_until(lock, wake, [&] {
        return stopping_ || drain_kick_ || beat_now_ || !queue_.empty() || !confirms_.empty();
      });
      drain_kick_ = false;
      if (beat_now_)
        next_beat = steady::now();
      beat_now_ = false;
      if (stopping_)
        return;
      batch.swap(queue_);
      confirms.swap(confirms_);
      queued_messages_ = 0;
    }
    for (auto& it : batch)
      send(it);
    batch.clear();
    if (!confirms.empty()) {
      // The subscriptions of this batch (and before) are at the server once it answers a PING.
      const bool ok =
          linked() && natsConnection_FlushTimeout(impl_->conn, confirm_within_ms) == NATS_OK;
      if (!ok)
        stats_.unconfirmed.fetch_add(confirms.size(), std::memory_order_relaxed);
      for (auto& done : confirms)
        done(ok);
      confirms.clear();
    }
    if (draining())
      close_some(steady::now());
    if (steady::now() >= next_beat) {
      heartbeat();
      next_beat = steady::now() + heartbeat_every;
    }
  }
}

void node::send(item& it) {
  auto* nc = impl_->conn;
  switch (it.what) {
  case op::publish: {
    natsMsg* m = nullptr;
    const auto& payload = it.message->payload;
    if (natsMsg_Create(&m, it.subject.c_str(), nullptr, payload.data(),
                       static_cast<int>(payload.size())) != NATS_OK) {
      stats_.dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const auto seq = std::to_string(++seq_);
    natsMsgHeader_Set(m, h_origin, origin_.c_str());
    natsMsgHeader_Set(m, h_seq, seq.c_str());
    natsMsgHeader_Set(m, h_qos, it.qos == 0 ? "0" : it.qos == 1 ? "1" : "2");
    if (it.retain)
      natsMsgHeader_Set(m, h_retain, "1");
    // A retained message through JetStream (acknowledged, counted when not kept) once the
    // stream is there; the other nodes get it as any message either way.
    const bool kept = it.retain && retained_synced_.load(std::memory_order_acquire);
    if ((kept ? js_PublishMsgAsync(impl_->js, &m, nullptr) : natsConnection_PublishMsg(nc, m)) ==
        NATS_OK) {
      stats_.out.fetch_add(1, std::memory_order_relaxed);
    } else {
      stats_.dropped.fetch_add(1, std::memory_order_relaxed);
      if (it.retain)
        note_unsent_retained(it.message->topic);
    }
    natsMsg_Destroy(m); // null when JetStream took it
    return;
  }
  case op::subscribe: {
    natsSubscription* sub = nullptr;
    const auto handler = [](natsConnection* c, natsSubscription* s, natsMsg* m, void* cl) {
      on_message(c, s, m, cl);
    };
    if (const auto s = natsConnection_Subscribe(&sub, nc, it.subject.c_str(), handler, this);
        s != NATS_OK) {
      spdlog::error("cluster: cannot subscribe to {}: {}", it.subject, natsStatus_GetText(s));
      return;
    }
    natsSubscription_SetPendingLimits(sub, 1'000'000, 256 << 20);
    open_subscriptions::get().watch(sub);
    impl_->subs[it.subject] = sub;
    return;
  }
  case op::unsubscribe: {
    auto found = impl_->subs.find(it.subject);
    if (found == impl_->subs.end())
      return;
    natsSubscription_Unsubscribe(found->second);
    natsSubscription_Destroy(found->second);
    impl_->subs.erase(found);
    return;
  }
  case op::control:
    // A part of a moving session past the server's max_payload is refused: counted.
    if (natsConnection_Publish(nc, it.subject.c_str(), it.payload.data(),
                               static_cast<int>(it.payload.size())) != NATS_OK)
      stats_.dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
}

std::size_t node::nodes_up_known() const {
  if (!linked())
    return 0;
  const steady::time_point at{steady::duration(linked_at_.load(std::memory_order_acquire))};
  if (steady::now() - at < heartbeat_every * 3 / 2)
    return 0;
  const auto all = nodes();
  return static_cast<std::size_t>(
      std::count_if(all.begin(), all.end(), [](const node_status& n) { return n.up; }));
}

void node::heartbeat(bool leaving) {
  const auto l = opts_.load ? opts_.load() : node_load{};
  const boost::json::object o{{"node", name()},
                              {"connections", l.connections},
                              {"devicesOnline", l.devices_online},
                              {"state", leaving      ? "left"
                                        : draining() ? "draining"
                                                     : "up"}};
  const auto body = boost::json::serialize(o);
  const std::string subject = std::string(heartbeat_prefix) + name();
  natsConnection_Publish(impl_->conn, subject.c_str(), body.data(), static_cast<int>(body.size()));
}

void node::on_message(void*, void*, void* msg, void* closure) {
  static_cast<node*>(closure)->receive(msg);
}

void node::receive(void* raw) {
  auto* m = static_cast<natsMsg*>(raw);
  const std::string_view subject = natsMsg_GetSubject(m);
  const std::string_view body(natsMsg_GetData(m),
                              static_cast<std::size_t>(natsMsg_GetDataLength(m)));
  if (subject.starts_with(message_prefix) || subject.starts_with(retained_prefix)) {
    receive_data(m, subject);
  } else if (subject.starts_with(handover_prefix)) {
    if (body.size() <= max_handover)
      on_handover(body);
  } else if (body.size() > max_control) {
    // not ours: ignored
  } else if (subject.starts_with(heartbeat_prefix)) {
    boost::system::error_code ec;
    const auto v = boost::json::parse(body, ec);
    if (!ec && v.is_object()) {
      const auto& o = v.as_object();
      if (json_str(o, "state") == "left")
        members_.left(json_str(o, "node"));
      else if (members_.heard(json_str(o, "node"), json_u64(o, "connections"),
                              json_u64(o, "devicesOnline"), steady::now(),
                              json_str(o, "state") == "draining")) {
        // A node new to this one (just joined, or back): it hears this one now, not in a second.
        std::lock_guard lock(mu_);
        beat_now_ = true;
        cv_.notify_one();
      }
    }
  } else if (subject == takeover_subject) {
    if (!body.empty())
      broker_.disconnect(body, broker::close_reason::taken_over_elsewhere, false);
  } else if (subject == claim_subject) {
    on_claim(body);
  } else if (subject == offer_subject) {
    on_offer(body);
  } else if (subject == registry_subject) {
    boost::system::error_code ec;
    const auto v = boost::json::parse(body, ec);
    if (!ec && v.is_object() && opts_.on_registry) {
      const auto& o = v.as_object();
      opts_.on_registry({json_str(o, "kind"), json_str(o, "a"), json_str(o, "b")});
    }
  }
  natsMsg_Destroy(m);
}

void node::receive_data(void* raw, std::string_view subject) {
  auto* m = static_cast<natsMsg*>(raw);
  const auto origin = header(m, h_origin);
  if (origin.empty() || origin == origin_)
    return;
  // One message can match two of our subscriptions ("a/#" and "a/+"): both copies come, one
  // after the other for this origin (one connection, in order); the second is dropped.
  const auto seq = number(header(m, h_seq));
  auto found = seen_.find(origin);
  if (found != seen_.end()) {
    if (seq <= found->second) {
      stats_.duplicates.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    found->second = seq;
  } else {
    if (seen_.size() >= 4096) // incarnations of restarted nodes pile up: start over
      seen_.clear();
    seen_.emplace(origin, seq);
  }
  auto topic = topic_of_subject(subject);
  if (!topic)
    return;
  const auto qos = static_cast<std::uint8_t>(std::min<std::uint64_t>(number(header(m, h_qos)), 2));
  const bool retain = header(m, h_retain) == "1";
  if (retain && syncing_.load(std::memory_order_acquire)) { // no lock per message otherwise
    std::lock_guard lock(fresh_mu_);
    fresh_.insert(*topic);
  }
  const std::string_view payload(natsMsg_GetData(m),
                                 static_cast<std::size_t>(natsMsg_GetDataLength(m)));
  stats_.in.fetch_add(1, std::memory_order_relaxed);
  broker_.publish_remote(broker::make_message(*topic, payload, qos, retain),
                         std::hash<std::string_view>{}(origin));
}

} // namespace thingport::cluster
