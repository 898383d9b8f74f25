// A worker: one thread, one io_context, the sessions and connections it owns. Messages routed
// to sessions on other workers are batched and posted there (docs/threads.md).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "broker/close_reason.hpp"
#include "broker/counters.hpp"
#include "broker/deadline_wheel.hpp"
#include "broker/message.hpp"
#include "broker/park_set.hpp"
#include "broker/pointer_set.hpp"
#include "broker/session.hpp"
#include "broker/session_snapshot.hpp"
#include "broker/topic_index.hpp"
#include "store/session_store.hpp"

namespace thingport::broker {

class broker;
class client;
class worker;

// A QoS 1/2 publish whose acknowledgement waits for the session store (durability = sync).
// Every commit batch that holds an entry the message made keeps a reference; the last one
// released posts worker::ack_ready() to the publisher's worker (docs/lifecycles.md).
struct ack_token {
  ack_token(worker& w, std::uint64_t serial, std::uint64_t seq) noexcept
      : home(&w), client_serial(serial), ack_seq(seq) {}
  ~ack_token();
  ack_token(const ack_token&) = delete;
  ack_token& operator=(const ack_token&) = delete;

  worker* home;
  std::uint64_t client_serial;
  std::uint64_t ack_seq;
  std::atomic<bool> failed{false}; // a commit holding it failed: never acknowledge
  bool handed_over = false;        // its acknowledgement went in a batch (worker::let_go)
  // Set for a publisher outside MQTT (broker::publish with a completion): called instead of
  // posting to home's client, with whether every commit holding the message succeeded.
  std::function<void(bool)> done;
};

// What route() needs to make a publisher's acknowledgement wait: for the store (`commit`: the
// token is made on the first delivery to a stored session) or for a subscriber queue past its
// bound to send the message ([limits] overload = "backpressure"). Empty when nothing waits.
struct publish_ack {
  std::uint64_t client_serial = 0;
  std::uint64_t ack_seq = 0;
  std::shared_ptr<ack_token> token;
  bool commit = true;
};

struct delivery {
  subscriber_id id = 0;
  std::uint8_t qos = 0;
  std::uint8_t hops = 0;
  // Let in under the session's bound by its router: kept even if the queue has filled
  // meanwhile. `counted`: in the session's transit backlog (session_table::add_transit), which
  // routers take once it has a queue at all; before that a plain read suffices.
  bool admitted = false;
  bool counted = false;
  message_ptr msg;
  std::shared_ptr<ack_token> ack;  // set when the session is stored and a publisher waits
  std::shared_ptr<ack_token> hold; // set when the router found the session's backlog full
};

class worker {
public:
  worker(broker& b, unsigned index);
  ~worker();
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  boost::asio::io_context& io() noexcept { return io_; }
  park_set& parked() noexcept { return parked_; } // idle plain-TCP links off Asio
  const park_set& parked() const noexcept { return parked_; }
  unsigned index() const noexcept { return index_; }
  broker& owner() noexcept { return broker_; }
  counters& stats() noexcept { return stats_; }
  const counters& stats() const noexcept { return stats_; }
  // The deadlines of this worker's connections (one timer for all).
  deadline_wheel& wheel() noexcept { return wheel_; }

  // --- on this worker's thread ---
  void add_client(client& c);
  void remove_client(client& c);
  // The CONNECT of `c` was accepted: find, take over or create its session. Calls c.attach()
  // now, or later when the session arrives from another worker.
  void open_session(client& c);
  // `c` is going away; its session stays (persistent) or is destroyed.
  void detach_session(client& c, session& s);

  // `ack`: the publisher's acknowledgement may wait for the store (null: it does not).
  void route(const message_ptr& m, publish_ack* ack = nullptr);
  // `hold`: the publisher waits until this message is sent (past the queue's bound);
  // `admitted`: a router already let it in (delivery::admitted).
  void deliver(session& s, const message_ptr& m, std::uint8_t qos, bool retain,
               const std::shared_ptr<ack_token>& ack, const std::shared_ptr<ack_token>& hold,
               bool admitted = false);
  void drain(session& s); // fills the in-flight window from the queue
  // Lets the held publishers go: one post per publishers' worker, not one per message.
  void let_go(std::vector<std::shared_ptr<ack_token>>& holds);
  // Returns true when the filter is new to the session; `*interest` is set when it is new to
  // this node (the bridge was told: see bridge::confirm).
  bool subscribe(session& s, const std::string& filter, std::uint8_t qos, bool* interest = nullptr);
  // Closes the connection of session `id` if it lives here (and deletes the session when
  // `discard`); forwards to the session's home worker otherwise.
  void disconnect_session(subscriber_id id, close_reason r, bool discard, std::uint8_t hops);
  bool unsubscribe(session& s, std::string_view filter);
  // broker::drop_filters on this worker; forwards to the session's home worker (drop_filters.cpp).
  void drop_filters(subscriber_id id,
                    const std::function<bool(const client_identity*, std::string_view)>& drop,
                    std::uint8_t hops);
  void deliver_retained(session& s, const std::string& filter, std::uint8_t granted);

  // The held SUBACK of client `serial` may go (client::release_suback), if it is still here.
  void release_suback(std::uint64_t serial, std::uint16_t packet_id);
  // Closes client `serial` if it is still here.
  void close_client(std::uint64_t serial, close_reason r);
  // --- sessions moving between nodes (session_move.cpp); on this worker's thread ---
  // Closes the connection of session `id` with `r` and, when the session is persistent, takes
  // it off this node (subscriptions, interest, store rows) and passes it to `done`; null when
  // there is none.
  void surrender(subscriber_id id, close_reason r, surrender_done done, std::uint8_t hops);
  // Adds `s`'s subscriptions and messages to the session of its key (made here, persistent and
  // offline, when there is none), then calls `then` once the store committed it
  // (broker::absorb_session).
  void absorb(std::shared_ptr<const session_snapshot> s, std::function<void(bool)> then,
              std::uint8_t hops);
  // Any thread: client `serial`, if it is still here waiting for its session, looks for it now.
  void open_session_later(std::uint64_t serial);

  // Closes every client (server shutdown) and stops the io_context once they are gone.
  void shutdown();

  // --- durable sessions (worker_store.cpp); on this worker's thread ---
  // A message id unique on this node (also across restarts: see broker::restore()).
  std::uint64_t next_message_id() noexcept { return (++message_seq_ << 10) | (index_ + 1); }
  void set_message_seq(std::uint64_t at_least) noexcept {
    if (message_seq_ < at_least)
      message_seq_ = at_least;
  }
  // Queues a write of a stored session's change; sent to the writer after this handler.
  void persist(store::session_op op);
  // Hands what persist() queued to the writer now (before a session leaves this worker).
  void flush_store();
  // The commit that `ack_seq` of client `serial` waited for is done (or failed).
  void ack_ready(std::uint64_t serial, std::uint64_t ack_seq, bool ok);
  // Entry of a stored session acknowledged (PUBACK, PUBCOMP) or released (PUBREC).
  void acked(session& s, const inflight_message& m);
  void released(session& s, const inflight_message& m);
  // A stored session loaded at start: registered here, offline. Before broker::start() only.
  session& restore_session(const std::string& key);

private:
  // Stores the entry of `m` for `s`: returns its seq. `m` must have a message id.
  std::uint64_t store_entry(session& s, const message_ptr& m, std::uint8_t qos, bool retain,
                            store::entry_state state, std::uint16_t packet_id,
                            std::int64_t expires_ms, const std::shared_ptr<ack_token>& ack);
  message_ptr with_id(const message_ptr& m);
  void drop_full(session& s);
  // Queues for an online session (past its bound when `hold` or `admitted` allow it).
  void enqueue(session& s, queued_message q, std::size_t bytes);
  // A session past its bound: closed as slow_consumer once it acknowledges nothing for
  // options::slow_consumer (checked every second while any is watched).
  void watch_congested(session& s);
  void sweep_congested();
  void arm_sweep();
  // True (and the drop counted and logged) when the store is over its disk budget.
  bool drop_over_budget(session& s);

  void handoff(subscriber_id id, unsigned to, std::uint64_t serial, bool keep);
  void adopt(std::uint64_t serial, std::unique_ptr<session> s);
  void create_session(client& c);
  void destroy_session(session& s);
  void deliver_batch(std::vector<delivery>& batch);
  void deliver_one(delivery& d);
  void flush_outbox();
  void stop_when_idle(std::chrono::steady_clock::time_point deadline);

  broker& broker_;
  unsigned index_;
  boost::asio::io_context io_{1};
  park_set parked_{io_};
  deadline_wheel wheel_{io_};
  boost::asio::steady_timer stop_timer_{io_};
  boost::asio::steady_timer congestion_timer_{io_};
  std::vector<subscriber_id> congested_; // sessions here past their bound (watch_congested)
  bool sweep_armed_ = false;
  // Open-addressing tables: no heap node per link (memory per idle connection,
  // docs/performance.md); the values are pointers, so nothing relies on a slot's address.
  static subscriber_id id_of(const session* s) noexcept { return s->id(); }
  owning_pointer_set<session, subscriber_id, &worker::id_of> sessions_; // by id, owned
  static std::uint64_t serial_of(const client* c) noexcept;             // c->serial()
  pointer_set<client, std::uint64_t, &worker::serial_of> clients_;      // by serial
  std::vector<std::vector<delivery>> outbox_;                           // per destination worker
  struct released_ack {
    std::uint64_t client_serial;
    std::uint64_t ack_seq;
    bool ok;
  };
  std::vector<std::vector<released_ack>> acks_out_; // let_go(), per publishers' worker
  std::vector<subscriber_match> matches_;           // scratch for route()
  counters stats_;
  std::vector<store::session_op> store_ops_;             // persist() since the last flush
  std::vector<std::shared_ptr<ack_token>> store_acks_;   // publishers those ops hold
  std::vector<std::function<void(bool)>> store_waiters_; // told when those ops are committed
  std::uint64_t last_stored_message_ = 0;                // put_message dedup within a flush
  std::uint64_t message_seq_ = 0;
  bool store_flush_posted_ = false;
  bool flush_posted_ = false;
  bool stopping_ = false;
};

} // namespace thingport::broker
