// The broker: workers, the shared subscription index and retained store, the session registry,
// the policy and the counters. Thread-safe where noted; see docs/threads.md.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broker/bridge.hpp"
#include "broker/counters.hpp"
#include "broker/message.hpp"
#include "broker/options.hpp"
#include "broker/pointer_set.hpp"
#include "broker/policy.hpp"
#include "broker/publish_consumer.hpp"
#include "broker/retained_store.hpp"
#include "broker/session_snapshot.hpp"
#include "broker/session_table.hpp"
#include "broker/topic_index.hpp"
#include "broker/worker.hpp"

namespace thingport::store {
class session_store;
class session_writer;
} // namespace thingport::store

namespace thingport::broker {

class broker {
public:
  broker(options o, std::shared_ptr<client_policy> policy);
  ~broker();
  broker(const broker&) = delete;
  broker& operator=(const broker&) = delete;

  // Runs one thread per worker until stop().
  void start();
  // Closes every connection (reason server_shutdown) and joins the threads. Idempotent.
  void stop();

  unsigned worker_count() const noexcept { return static_cast<unsigned>(workers_.size()); }
  worker& at(unsigned i) noexcept { return *workers_[i]; }
  const worker& at(unsigned i) const noexcept { return *workers_[i]; }
  worker& pick() noexcept; // round robin, for new connections; any thread

  topic_index& index() noexcept { return index_; }
  retained_store& retained() noexcept { return retained_; }
  session_table& sessions() noexcept { return sessions_; }
  const topic_index& index() const noexcept { return index_; }
  const retained_store& retained() const noexcept { return retained_; }
  const session_table& sessions() const noexcept { return sessions_; }
  client_policy& policy() noexcept { return *policy_; }
  const options& opts() const noexcept { return opts_; }
  // A counter summed over the workers (each worker counts its own, so the per-message path
  // never shares a cache line between cores). Any thread; a statistic, not a snapshot.
  std::uint64_t total(std::atomic<std::uint64_t> counters::*field) const noexcept;
  std::uint64_t total_closes(close_reason r) const noexcept;
  std::uint64_t total_refused(std::size_t connack_code) const noexcept;

  // Persistent sessions per credential (client_policy::budget_of). take_budget() counts one
  // more for the session key's budget, or returns false when it is full (`force`: count it
  // anyway, for sessions restored at start); give_budget() returns one. Any thread.
  bool take_budget(std::string_view session_key, bool force = false);
  void give_budget(std::string_view session_key);

  // Bytes queued for offline sessions, all together (options::max_queued_total): reserve before
  // queueing (false: over the bound; `force` for sessions restored at start), release when a
  // queued message leaves its queue or its session goes. Any thread.
  bool reserve_queued(std::uint64_t bytes, bool force = false) noexcept {
    const auto now = queued_total_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    if (force || opts_.max_queued_total == 0 || now <= opts_.max_queued_total)
      return true;
    queued_total_.fetch_sub(bytes, std::memory_order_relaxed);
    return false;
  }
  void release_queued(std::uint64_t bytes) noexcept {
    queued_total_.fetch_sub(bytes, std::memory_order_relaxed);
  }
  std::uint64_t queued_total() const noexcept {
    return queued_total_.load(std::memory_order_relaxed);
  }

  std::uint64_t next_serial() noexcept { return serial_.fetch_add(1, std::memory_order_relaxed); }
  // Unique on this node across restarts; workers make their own (low bits: worker + 1; here 0).
  std::uint64_t next_message_id() noexcept {
    return msg_id_.fetch_add(1, std::memory_order_relaxed) << 10;
  }

  // --- durable sessions (docs/lifecycles.md); before start() only ---
  // Persistent sessions are written through `w` from now on; `sync_acks`: a QoS 1/2 publish
  // that a stored session takes is acknowledged after the commit (durability = sync), else at
  // once (async). Without a writer, sessions live in memory only.
  void attach_store(store::session_writer& w, bool sync_acks) noexcept {
    writer_ = &w;
    sync_acks_ = sync_acks;
  }
  // Loads every stored session onto the workers (spread round robin), with its subscriptions
  // in the index and its messages queued or in flight; deletes expired messages first.
  // Returns the number of sessions, or the store's error.
  store::result<std::size_t> restore(store::session_store& s);
  store::session_writer* writer() const noexcept { return writer_; }
  // stop() has begun: acknowledgements are not worth posting any more. Any thread.
  bool stopping() const noexcept { return stopped_.load(std::memory_order_acquire); }
  // Whether a QoS 1/2 publish now waits for the commit: always with durability = sync; with
  // async, while the writer is behind by more than async_backlog operations (so a publisher
  // faster than the disk is slowed by its own in-flight window instead of filling memory).
  bool ack_after_commit() const noexcept;
  // The session store's last commit failed (full or read-only disk): persistent sessions are
  // refused with CONNACK 3 until a commit succeeds. Any thread.
  bool store_failing() const noexcept;
  // The session store uses more than opts().disk_budget. Any thread.
  bool store_over_budget() const noexcept;

  // Device publishes on thing topics go to `c` as well (publish_consumer.hpp); before start()
  // only. `c` outlives the broker's threads.
  void attach_consumer(publish_consumer& c) noexcept { consumer_ = &c; }
  publish_consumer* consumer() const noexcept { return consumer_; }

  // Joins this node to others (bridge.hpp); before start() and restore() only. `b` outlives
  // the broker's threads.
  void attach_bridge(bridge& b) noexcept { bridge_ = &b; }
  bridge* linked() const noexcept { return bridge_; }
  // A message that another node accepted (from the bridge): kept as retained when `m->retain`,
  // delivered to this node's subscribers only, never passed back to the bridge. Messages with
  // the same `order` key are routed on one worker, in the order they come. Any thread.
  void publish_remote(message_ptr m, std::uint64_t order);

  // Publishes a message from outside MQTT (API, CLI): routed on a worker. Any thread.
  void publish(message_ptr m);
  // The same, then `done(stored)` once the message is routed and, with durability = sync, every
  // commit of a persistent session that took it is done: true when all of them succeeded (at
  // once when no stored session took it). Runs on a worker or the session writer's thread: it
  // must not block (post to your own executor). Not called when the broker stops first.
  void publish(message_ptr m, std::function<void(bool stored)> done);
  // The same for a message addressed to one session's client (a device's downlink, a reply):
  // routed on the worker that holds the session `session_key`, so that delivery to it takes no
  // second trip between workers (any worker when there is no such session).
  void publish_to(
      std::string_view session_key, message_ptr m,
      std::function<void(bool stored)> done = [](bool) {});

  // Closes the connection of session `session_key` with `r` (an operator disabled or deleted the
  // device) and, when `discard` is set, deletes the session too (subscriptions, queued
  // messages). Any thread; asynchronous: done on the session's worker shortly after.
  void disconnect(std::string_view session_key, close_reason r, bool discard);

  // Sessions moving between nodes (the bridge; session_move.cpp). Any thread, asynchronous.
  // Closes the connection of `session_key` with `r` and, when its session is persistent, takes
  // the session off this node (store rows included) and passes it to `done` (on a worker; at
  // once, with null, when there is no session).
  void surrender_session(std::string_view session_key, close_reason r, surrender_done done);
  // Adds `s` (from another node) to the session of its key here: its subscriptions, its
  // messages queued (sent at once when its client is connected). A session is made, persistent
  // and offline, on worker `prefer` when there is none. `then` after, once the session store
  // has committed it (false: the commit failed), on the store's writer thread; with no store, at
  // once on the worker.
  void absorb_session(std::shared_ptr<const session_snapshot> s, unsigned prefer,
                      std::function<void(bool stored)> then);

  // Removes from session `session_key` every filter `drop(identity, filter)` picks (identity:
  // the session's, null for a stored one not connected since the start) as UNSUBSCRIBE does:
  // from the session, the index, the bridge's interest and the session store. A policy taking
  // back what it granted (a gateway's sub-device logged out). Any thread; asynchronous: done on
  // the session's worker, where `drop` runs (drop_filters.cpp).
  using filter_pick = std::function<bool(const client_identity*, std::string_view filter)>;
  void drop_filters(std::string_view session_key, filter_pick drop);

  // --- the session registry: session key -> id; any thread ---
  subscriber_id find_session(std::string_view key) const;
  // Every session's key (at start, before the listeners: the sessions restored from the store).
  std::vector<std::string> session_keys() const;
  // The worker that holds the session named `key`, and its id; {nullptr, 0} when there is none.
  std::pair<worker*, subscriber_id> session_home(std::string_view key) const;
  // The registry keeps a pointer to `s` (its key and id, not a copy), so `s` must stay where it
  // is until unregister_session() of its key and id, or a later register_session() of the same
  // key. Any thread may read its key and id meanwhile: neither changes.
  void register_session(const session& s);
  // Forgets `key` when it still names session `id`.
  void unregister_session(std::string_view key, subscriber_id id);

private:
  void publish_on(worker& w, message_ptr m, std::function<void(bool)> done);

  options opts_;
  std::shared_ptr<client_policy> policy_;
  topic_index index_;
  retained_store retained_;
  std::atomic<std::uint64_t> queued_total_{0};
  std::mutex budget_mu_;
  std::unordered_map<std::string, std::size_t> budgets_;
  session_table sessions_;
  mutable std::mutex registry_mu_;
  static std::string_view key_of(const session* s) noexcept { return s->key(); }
  // The sessions by their own key (session::key()): no copy of the key or the id.
  pointer_set<const session, std::string_view, &broker::key_of> registry_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::vector<std::thread> threads_;
  std::atomic<unsigned> rr_{0};
  std::atomic<std::uint64_t> serial_{1};
  std::atomic<std::uint64_t> msg_id_{1};
  store::session_writer* writer_ = nullptr;
  publish_consumer* consumer_ = nullptr;
  bridge* bridge_ = nullptr;
  bool sync_acks_ = false;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
};

} // namespace thingport::broker
