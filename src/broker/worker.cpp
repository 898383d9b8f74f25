#include "broker/worker.hpp"

#include <algorithm>
#include <chrono>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "broker/broker.hpp"
#include "broker/client.hpp"

namespace thingport::broker {

namespace asio = boost::asio;

namespace {
constexpr std::uint8_t max_hops = 4; // a delivery chasing a session that keeps moving gives up
const std::shared_ptr<ack_token> no_ack;
} // namespace

std::uint64_t worker::serial_of(const client* c) noexcept {
  return c->serial();
}

worker::worker(broker& b, unsigned index) : broker_(b), index_(index) {}

worker::~worker() {
  wheel_.clear(); // connections still waiting for a deadline go while the worker is whole
}

void worker::add_client(client& c) {
  clients_.insert(&c);
}

void worker::remove_client(client& c) {
  clients_.erase(c.serial());
}

void worker::create_session(client& c) {
  const bool budgeted = !c.clean_session();
  if (budgeted && !broker_.take_budget(c.session_key()))
    return c.refuse_session();
  const bool stored = !c.clean_session() && broker_.writer() != nullptr;
  const auto id = broker_.sessions().allocate(index_, stored);
  // A clean session ends with its connection: it views the identity's key (no copy per device).
  const auto& who = c.identity();
  auto s = c.clean_session() && who && !who->session_key.empty()
               ? std::make_unique<session>(id, who)
               : std::make_unique<session>(id, c.session_key());
  session& ref = *s;
  broker_.register_session(ref);
  sessions_.insert(std::move(s));
  ref.persistent = !c.clean_session();
  ref.budgeted = budgeted;
  if (stored) {
    ref.stored = true;
    persist(store::put_session{
        std::string(ref.key()),
        std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now())});
  }
  c.attach(ref, false);
}

void worker::open_session(client& c) {
  const subscriber_id id = broker_.find_session(c.session_key());
  if (id == 0)
    return create_session(c);
  const auto home = broker_.sessions().home(id);
  if (!home) {
    // Destroyed after we read the registry: its destroyer erased the entry (or will).
    broker_.unregister_session(c.session_key(), id);
    return open_session(c);
  }
  const bool keep = !c.clean_session();
  if (*home == index_)
    return handoff(id, index_, c.serial(), keep);
  asio::post(broker_.at(*home).io(), [w = &broker_.at(*home), id, to = index_, serial = c.serial(),
                                      keep] { w->handoff(id, to, serial, keep); });
}

// On the worker that owns session `id`: take it from its connection and hand it to worker `to`,
// where client `serial` waits for it.
void worker::handoff(subscriber_id id, unsigned to, std::uint64_t serial, bool keep) {
  session* found = sessions_.find(id);
  if (found == nullptr) {
    const auto home = broker_.sessions().home(id);
    if (home && *home != index_) {
      asio::post(broker_.at(*home).io(), [w = &broker_.at(*home), id, to, serial, keep] {
        w->handoff(id, to, serial, keep);
      });
      return;
    }
    if (to == index_)
      return adopt(serial, nullptr);
    asio::post(broker_.at(to).io(), [w = &broker_.at(to), serial] { w->adopt(serial, nullptr); });
    return;
  }
  session& s = *found;
  if (s.conn != nullptr) {
    client* old = s.conn;
    s.conn = nullptr;
    old->take_over();
  }
  std::unique_ptr<session> moved;
  if (keep && s.persistent) {
    moved = sessions_.take(id);
  } else {
    destroy_session(s);
  }
  // What this worker wrote for the session reaches the writer before the new owner writes.
  flush_store();
  if (to == index_)
    return adopt(serial, std::move(moved));
  session* raw = moved.get();
  asio::post(broker_.at(to).io(), [w = &broker_.at(to), serial, s = std::move(moved)]() mutable {
    w->adopt(serial, std::move(s));
  });
  // After the post: a delivery that reads the new home is queued behind the adopt.
  if (raw != nullptr)
    broker_.sessions().set_home(id, to);
}

void worker::adopt(std::uint64_t serial, std::unique_ptr<session> s) {
  auto it = clients_.find(serial);
  client* c = it == clients_.end() ? nullptr : *it;
  if (s == nullptr) {
    if (c != nullptr && c->awaiting_session())
      open_session(*c);
    return;
  }
  session& ref = *s;
  sessions_.insert(std::move(s));
  if (c == nullptr || !c->awaiting_session()) {
    // The client that asked for it is gone: the session stays here, offline.
    return;
  }
  c->attach(ref, true);
  if (ref.congested) { // watched on the worker it left
    ref.congested = false;
    watch_congested(ref);
  }
}

void worker::detach_session(client& c, session& s) {
  if (s.conn == &c)
    s.conn = nullptr;
  // Publishers held by this session's queue go on: a persistent session keeps what it queued
  // (that is its promise), a clean one is destroyed below.
  if (s.has_data()) {
    for (auto& q : s.data().queue)
      q.hold.reset();
    let_go(s.data().sent_holds);
  }
  if (!s.persistent)
    destroy_session(s);
}

void worker::destroy_session(session& s) {
  const auto id = s.id();
  if (s.budgeted)
    broker_.give_budget(s.key());
  broker_.release_queued(s.view().queued_bytes);
  if (s.stored)
    persist(store::delete_session{std::string(s.key())});
  auto* link = broker_.linked();
  for (const auto& sub : s.view().subscriptions)
    if (broker_.index().unsubscribe(sub.filter, id) && link != nullptr)
      link->interest(sub.filter, false);
  broker_.unregister_session(s.key(), id);
  broker_.sessions().release(id);
  sessions_.erase(id); // `s` is gone after this line
}

void worker::disconnect_session(subscriber_id id, close_reason r, bool discard, std::uint8_t hops) {
  session* found = sessions_.find(id);
  if (found == nullptr) {
    const auto home = broker_.sessions().home(id);
    if (!home || *home == index_ || hops >= max_hops)
      return;
    asio::post(broker_.at(*home).io(), [w = &broker_.at(*home), id, r, discard, hops] {
      w->disconnect_session(id, r, discard, static_cast<std::uint8_t>(hops + 1));
    });
    return;
  }
  session& s = *found;
  if (discard)
    s.persistent = false; // detaching destroys it
  if (s.conn != nullptr) {
    s.conn->close(r); // detaches: a non-persistent session is destroyed there
  } else if (discard) {
    destroy_session(s);
  }
}

void worker::route(const message_ptr& m, publish_ack* ack) {
  // The publisher's token, made when the first stored session takes the message.
  const auto token = [&]() -> const std::shared_ptr<ack_token>& {
    if (!ack->token)
      ack->token = std::make_shared<ack_token>(*this, ack->client_serial, ack->ack_seq);
    return ack->token;
  };
  const auto token_for = [&](bool stored,
                             std::uint8_t granted) -> const std::shared_ptr<ack_token>& {
    if (!stored || ack == nullptr || !ack->commit || granted == 0 || m->qos == 0)
      return no_ack;
    return token();
  };
  // A session whose backlog is at its bound takes the message only with the publisher held.
  const bool pressure = broker_.opts().overload == overload_mode::backpressure;
  const bool may_hold = pressure && ack != nullptr && m->qos != 0;
  const std::size_t bound = broker_.opts().max_queued;
  std::vector<subscriber_match> matches;
  matches.swap(matches_); // route() may run again from inside a delivery (a will)
  matches.clear();
  broker_.index().match(m->topic, matches);
  for (const auto& mt : matches) {
    // QoS 1/2 under backpressure: queued, not dropped, when the subscriber is busy.
    const bool counts = pressure && m->qos != 0 && mt.qos != 0;
    if (session* found = sessions_.find(mt.id); found != nullptr) {
      session& s = *found;
      // Never the publisher's own subscription: it would wait for acknowledgements it cannot
      // read while it is held (that one is dropped at the bound and counted, as before).
      const bool full = may_hold && counts && s.conn != nullptr && s.view().queue.size() >= bound &&
                        mt.id != m->origin;
      deliver(s, m, mt.qos, false, token_for(s.stored, mt.qos), full ? token() : no_ack);
      continue;
    }
    const auto where = broker_.sessions().lookup(mt.id);
    if (!where)
      continue; // the session ended
    // Counted before this publisher can be acknowledged: the other worker's queue may not have
    // grown yet, but every delivery on its way there is in its backlog. Only once it has a
    // queue at all: a subscriber that keeps up costs a read, not a shared write per message
    // (what one router sends before the first queued message shows is let in past the bound).
    const bool counted = counts && broker_.sessions().queued(mt.id) != 0;
    const bool full = counted && broker_.sessions().add_transit(mt.id) >= bound;
    if (outbox_.empty())
      outbox_.resize(broker_.worker_count());
    outbox_[where->home].push_back({mt.id, mt.qos, 0, counts, counted, m,
                                    token_for(where->persistent, mt.qos),
                                    full && may_hold ? token() : no_ack});
  }
  matches.swap(matches_);
  if (!flush_posted_ && !outbox_.empty()) {
    flush_posted_ = true;
    asio::post(io_, [this] { flush_outbox(); });
  }
}

void worker::flush_outbox() {
  flush_posted_ = false;
  for (unsigned w = 0; w < outbox_.size(); ++w) {
    if (outbox_[w].empty())
      continue;
    std::vector<delivery> batch;
    batch.swap(outbox_[w]);
    stats_.handoffs.fetch_add(batch.size(), std::memory_order_relaxed);
    asio::post(broker_.at(w).io(), [target = &broker_.at(w), b = std::move(batch)]() mutable {
      target->deliver_batch(b);
    });
  }
}

void worker::deliver_batch(std::vector<delivery>& batch) {
  for (auto& d : batch)
    deliver_one(d);
}

void worker::deliver_one(delivery& d) {
  if (session* found = sessions_.find(d.id); found != nullptr) {
    deliver(*found, d.msg, d.qos, false, d.ack, d.hold, d.admitted);
    if (d.counted) // after the queue it joined was published (set_queued)
      broker_.sessions().transit_done(d.id);
    return;
  }
  const auto home = broker_.sessions().home(d.id);
  if (!home)
    return;
  // In transit: forward (to the new owner, or to ourselves behind a pending adopt).
  if (++d.hops > max_hops) {
    if (d.counted)
      broker_.sessions().transit_done(d.id);
    return;
  }
  if (outbox_.empty())
    outbox_.resize(broker_.worker_count());
  outbox_[*home].push_back(std::move(d));
  if (!flush_posted_) {
    flush_posted_ = true;
    asio::post(io_, [this] { flush_outbox(); });
  }
}

void worker::deliver(session& s, const message_ptr& m, std::uint8_t granted, bool retain,
                     const std::shared_ptr<ack_token>& ack, const std::shared_ptr<ack_token>& hold,
                     bool admitted) {
  const std::uint8_t qos = std::min(m->qos, granted);
  if (s.identity && s.identity->check_delivery &&
      !broker_.policy().may_receive(*s.identity, *m, m->origin == s.id()))
    return;
  if (s.conn != nullptr) {
    if (qos == 0)
      return s.conn->send_publish(*m, 0, retain, false, 0);
    if (s.view().queue.empty() && s.view().inflight.size() < broker_.opts().max_inflight) {
      const auto pid = s.next_packet_id();
      if (!s.stored) {
        s.data().inflight.push_back({m, pid, qos, retain, false, 0});
        return s.conn->send_publish(*m, qos, retain, false, pid);
      }
      if (drop_over_budget(s))
        return;
      auto mm = with_id(m);
      const auto seq = store_entry(s, mm, qos, retain, store::entry_state::inflight, pid, 0, ack);
      s.data().inflight.push_back({mm, pid, qos, retain, false, seq});
      return s.conn->send_publish(*mm, qos, retain, false, pid);
    }
  } else if (qos == 0 || !s.persistent) {
    stats_.dropped_offline_qos0.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const auto& o = broker_.opts();
  const std::size_t bytes = m->topic.size() + m->payload.size();
  auto& sd = s.data();
  const bool over = sd.queue.size() >= o.max_queued || sd.queued_bytes + bytes > o.max_queued_bytes;
  // Past the bound only for a connected subscriber, and only when its publisher is held (or a
  // router on another worker counted it in and acknowledged on that basis).
  const bool keep = s.conn != nullptr && o.overload == overload_mode::backpressure &&
                    (hold != nullptr || admitted);
  if (over && !keep)
    return drop_full(s);
  if (s.stored && drop_over_budget(s))
    return;
  if (!broker_.reserve_queued(bytes)) {
    if (hold != nullptr) // memory for all queues is at its bound: refuse, never acknowledge
      hold->failed.store(true, std::memory_order_relaxed);
    return drop_full(s);
  }
  sd.queued_bytes += bytes;
  queued_message q{m, qos, retain, 0, 0, over ? hold : no_ack};
  if (s.stored) {
    q.expires_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       (std::chrono::system_clock::now() + o.offline_ttl).time_since_epoch())
                       .count();
    q.msg = with_id(m);
    q.seq = store_entry(s, q.msg, qos, retain, store::entry_state::queued, 0, q.expires_ms, ack);
  }
  sd.queue.push_back(std::move(q));
  broker_.sessions().set_queued(s.id(), sd.queue.size());
  if (over) {
    stats_.held.fetch_add(1, std::memory_order_relaxed);
    watch_congested(s);
  }
}

void worker::watch_congested(session& s) {
  if (s.congested || s.conn == nullptr)
    return;
  s.congested = true;
  s.data().progress = std::chrono::steady_clock::now();
  congested_.push_back(s.id());
  arm_sweep();
}

void worker::arm_sweep() {
  if (sweep_armed_)
    return;
  sweep_armed_ = true;
  congestion_timer_.expires_after(std::chrono::seconds(1));
  congestion_timer_.async_wait([this](boost::system::error_code ec) {
    sweep_armed_ = false;
    if (!ec && !stopping_)
      sweep_congested();
  });
}

void worker::sweep_congested() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<subscriber_id> watched;
  watched.swap(congested_); // closing below may route a will that watches another session
  std::vector<subscriber_id> keep;
  for (const auto id : watched) {
    session* found = sessions_.find(id);
    if (found == nullptr)
      continue; // gone, or moved (its new worker watches it)
    session& s = *found;
    if (s.conn == nullptr || s.view().queue.size() < broker_.opts().max_queued) {
      s.congested = false;
      continue;
    }
    if (now - s.view().progress < broker_.opts().slow_consumer) {
      keep.push_back(id);
      continue;
    }
    s.congested = false;
    spdlog::warn(
        "session {}: {} messages queued past its bound and nothing acknowledged for "
        "{} s: closing it as a slow consumer ([limits] slow_consumer)",
        s.key(), s.view().queue.size(),
        std::chrono::duration_cast<std::chrono::seconds>(broker_.opts().slow_consumer).count());
    s.conn->close(close_reason::slow_consumer); // may destroy `s`
  }
  for (const auto id : keep) {
    if (const session* found = sessions_.find(id); found != nullptr && found->congested)
      congested_.push_back(id);
  }
  if (!congested_.empty())
    arm_sweep();
}

void worker::drain(session& s) {
  std::int64_t now_ms = 0; // read once, when a message carries an expiry
  std::uint64_t expired = 0;
  if (!s.has_data())
    return; // nothing queued
  auto& sd = s.data();
  const std::size_t queued_before = sd.queue.size();
  while (s.conn != nullptr && !sd.queue.empty() &&
         sd.inflight.size() < broker_.opts().max_inflight) {
    queued_message q = std::move(sd.queue.front());
    sd.queue.pop_front();
    sd.queued_bytes -= q.msg->topic.size() + q.msg->payload.size();
    broker_.release_queued(q.msg->topic.size() + q.msg->payload.size());
    if (q.expires_ms != 0) {
      if (now_ms == 0)
        now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
      if (q.expires_ms <= now_ms) {
        ++expired;
        if (q.seq != 0)
          persist(store::delete_entry{std::string(s.key()), q.seq, q.msg->id});
        continue;
      }
    }
    const auto pid = s.next_packet_id();
    if (q.seq != 0)
      persist(
          store::set_entry_state{std::string(s.key()), q.seq, store::entry_state::inflight, pid});
    sd.inflight.push_back({q.msg, pid, q.qos, q.retain, false, q.seq});
    s.conn->send_publish(*q.msg, q.qos, q.retain, false, pid);
    if (q.hold)
      sd.sent_holds.push_back(std::move(q.hold));
  }
  if (sd.queue.size() != queued_before)
    broker_.sessions().set_queued(s.id(), sd.queue.size());
  // Held publishers resume together at the low mark: each then sends a burst, read in one go,
  // instead of one message per PUBACK (with 100 publishers that cost half the fan-in rate).
  if (!sd.sent_holds.empty() &&
      (s.conn == nullptr || sd.queue.size() <= broker_.opts().max_queued / 4))
    let_go(sd.sent_holds);
  if (expired != 0) {
    stats_.dropped_expired.fetch_add(expired, std::memory_order_relaxed);
    spdlog::info("session {}: {} queued messages expired (offline_ttl), not delivered", s.key(),
                 expired);
  }
}

bool worker::subscribe(session& s, const std::string& filter, std::uint8_t qos, bool* interest) {
  const bool added = s.add_subscription(filter, qos);
  if (broker_.index().subscribe(filter, s.id(), qos)) {
    if (auto* link = broker_.linked()) {
      link->interest(filter, true);
      if (interest != nullptr)
        *interest = true;
    }
  }
  if (s.stored)
    persist(store::put_subscription{std::string(s.key()), filter, qos});
  return added;
}

bool worker::unsubscribe(session& s, std::string_view filter) {
  if (!s.remove_subscription(filter))
    return false;
  if (broker_.index().unsubscribe(filter, s.id()))
    if (auto* link = broker_.linked())
      link->interest(filter, false);
  if (s.stored)
    persist(store::delete_subscription{std::string(s.key()), std::string(filter)});
  return true;
}

void worker::deliver_retained(session& s, const std::string& filter, std::uint8_t granted) {
  std::vector<message_ptr> found;
  broker_.retained().match(filter, found);
  for (const auto& m : found)
    deliver(s, m, granted, true, no_ack, no_ack);
}

void worker::release_suback(std::uint64_t serial, std::uint16_t packet_id) {
  if (auto it = clients_.find(serial); it != clients_.end())
    (*it)->release_suback(packet_id);
}

void worker::close_client(std::uint64_t serial, close_reason r) {
  if (auto it = clients_.find(serial); it != clients_.end())
    (*it)->close(r);
}

void worker::shutdown() {
  stopping_ = true;
  congestion_timer_.cancel();
  parked_.stop(); // parked links are closed below, with their clients
  std::vector<client*> all(clients_.begin(), clients_.end());
  for (client* c : all)
    c->close(close_reason::server_shutdown);
  // Give the drivers a moment to flush and close their sockets, then stop.
  stop_when_idle(std::chrono::steady_clock::now() + std::chrono::seconds(2));
}

void worker::stop_when_idle(std::chrono::steady_clock::time_point deadline) {
  if (clients_.empty() || std::chrono::steady_clock::now() >= deadline)
    return io_.stop();
  stop_timer_.expires_after(std::chrono::milliseconds(10));
  stop_timer_.async_wait([this, deadline](boost::system::error_code) { stop_when_idle(deadline); });
}

} // namespace thingport::broker
