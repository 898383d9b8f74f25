// Sessions moving between nodes (docs/cluster.md "Sessions move with their clients"): a node
// whose client logs in elsewhere gives its persistent session up (surrender), and the node the
// client is on now adds it to the session it holds there (absorb). Like drop_filters, both chase
// the session from worker to worker for as long as it exists (every hop follows a real takeover).
#include <chrono>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "broker/broker.hpp"
#include "broker/client.hpp"
#include "broker/worker.hpp"

namespace thingport::broker {

namespace asio = boost::asio;

namespace {
std::uint8_t next_hop(std::uint8_t hops) {
  return hops == std::numeric_limits<std::uint8_t>::max() ? hops
                                                          : static_cast<std::uint8_t>(hops + 1);
}
} // namespace

void broker::surrender_session(std::string_view session_key, close_reason r, surrender_done done) {
  const auto [w, id] = session_home(session_key);
  if (w == nullptr)
    return done(nullptr);
  asio::post(w->io(), [w, id, r, done = std::move(done)]() mutable {
    w->surrender(id, r, std::move(done), 0);
  });
}

void broker::absorb_session(std::shared_ptr<const session_snapshot> s, unsigned prefer,
                            std::function<void(bool)> then) {
  auto& w = at(prefer % worker_count());
  asio::post(w.io(), [w = &w, s = std::move(s), then = std::move(then)]() mutable {
    w->absorb(std::move(s), std::move(then), 0);
  });
}

void worker::open_session_later(std::uint64_t serial) {
  asio::post(io_, [this, serial] {
    if (auto it = clients_.find(serial); it != clients_.end() && (*it)->awaiting_session())
      open_session(**it);
  });
}

void worker::surrender(subscriber_id id, close_reason r, surrender_done done, std::uint8_t hops) {
  session* found = sessions_.find(id);
  if (found == nullptr) {
    // Destroyed meanwhile, or moving between workers (to this one too, behind the adopt
    // already queued): followed.
    const auto home = broker_.sessions().home(id);
    if (!home || hops == std::numeric_limits<std::uint8_t>::max())
      return done(nullptr);
    asio::post(broker_.at(*home).io(),
               [w = &broker_.at(*home), id, r, done = std::move(done),
                h = next_hop(hops)]() mutable { w->surrender(id, r, std::move(done), h); });
    return;
  }
  if (found->conn != nullptr)
    found->conn->close(r); // detaches: a clean session is destroyed there
  found = sessions_.find(id);
  if (found == nullptr || !found->persistent)
    return done(nullptr);
  session& s = *found;
  auto out = std::make_shared<session_snapshot>();
  out->key = std::string(s.key());
  const auto& v = s.view();
  out->subscriptions = v.subscriptions;
  out->messages.reserve(v.inflight.size() + v.queue.size());
  for (const auto& m : v.inflight) // a released QoS 2 message was received: only PUBCOMP is owed
    if (!m.released)
      out->messages.push_back({m.msg->topic, m.msg->payload, m.qos, m.retain});
  for (const auto& q : v.queue)
    out->messages.push_back({q.msg->topic, q.msg->payload, q.qos, q.retain});
  destroy_session(s); // its store rows, its interest, its budget
  flush_store();
  stats_.sessions_moved_out.fetch_add(1, std::memory_order_relaxed);
  done(std::move(out));
}

void worker::absorb(std::shared_ptr<const session_snapshot> snap, std::function<void(bool)> then,
                    std::uint8_t hops) {
  session* s = nullptr;
  if (const auto id = broker_.find_session(snap->key); id != 0) {
    if (session* found = sessions_.find(id); found != nullptr) {
      s = found;
    } else if (const auto home = broker_.sessions().home(id);
               home && hops != std::numeric_limits<std::uint8_t>::max()) {
      // Moving between workers (to this one too, behind the adopt already queued): follow it.
      asio::post(broker_.at(*home).io(), [w = &broker_.at(*home), snap = std::move(snap),
                                          then = std::move(then), h = next_hop(hops)]() mutable {
        w->absorb(std::move(snap), std::move(then), h);
      });
      return;
    }
  }
  if (s == nullptr) {
    // None here (or one being destroyed): a persistent session, offline until its client
    // attaches (session present).
    const bool stored = broker_.writer() != nullptr;
    const auto id = broker_.sessions().allocate(index_, stored);
    auto made = std::make_unique<session>(id, snap->key);
    s = made.get();
    broker_.register_session(*s);
    s->persistent = true;
    s->budgeted = broker_.take_budget(snap->key, true);
    sessions_.insert(std::move(made));
    if (stored) {
      s->stored = true;
      persist(store::put_session{snap->key, std::chrono::time_point_cast<std::chrono::milliseconds>(
                                                std::chrono::system_clock::now())});
    }
  }
  for (const auto& sub : snap->subscriptions)
    subscribe(*s, sub.filter, sub.qos);
  const std::shared_ptr<ack_token> none; // nobody waits: the old node acknowledged them
  for (const auto& m : snap->messages) {
    auto msg = make_message(m.topic, m.payload, m.qos, false, next_message_id(), 0);
    deliver(*s, msg, m.qos, m.retain, none, none);
  }
  stats_.sessions_moved_in.fetch_add(1, std::memory_order_relaxed);
  if (s->conn != nullptr)
    drain(*s);
  if (!then)
    return;
  if (broker_.writer() == nullptr)
    return then(true);
  // Told with the commit that holds what was just persisted: submitted now, as surrender does.
  store_waiters_.push_back(std::move(then));
  flush_store();
}

} // namespace thingport::broker
