// Sessions of a node that never comes back (docs/cluster.md "When a node never comes back"). In
// a cluster every node keeps its persistent sessions in PostgreSQL (store/session_pg.hpp), under
// a lock that PostgreSQL drops with the node's connection when its process dies. A session of a
// node that is not running is taken over here, in two ways:
//
// - one key, when its client logs in here (node::claim_session asks take()): the CONNACK then
//   says session present, and the client gets every message that node had acknowledged;
// - all of a dead node's sessions (those whose clients have not logged in again yet), by the
//   first node to find it silent on NATS for 1.5 s with its lock free; they are then offered,
//   so that a node where such a client logged in meanwhile claims its session.
//
// Each is the same move: the node's lock taken (refused while it runs, or while another survivor
// moves its sessions), its rows read, the sessions added to this node's (broker::absorb_session)
// and committed to this node's rows, and only then deleted from the dead node's: a crash in
// between leaves both copies (messages delivered twice, QoS 1's promise), never none.
//
// Threads: take() from any thread (queues); one thread of its own does the work.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "store/session_pg.hpp"

namespace thingport::broker {
class broker;
}

namespace thingport::cluster {

class node;

struct rescue_options {
  store::pg::options db;
  // The sweep takes the sessions of a node not heard on NATS for silent_after (heartbeats come
  // every second) whose lock is free, every sweep_every once this node has been on NATS that
  // long; which nodes have sessions stored is read every holders_every.
  std::chrono::milliseconds silent_after{1500};
  std::chrono::milliseconds sweep_every{500};
  std::chrono::milliseconds holders_every{5000};
  // How long a move waits for this node's store to commit what it added.
  std::chrono::milliseconds commit_wait{10000};
  std::size_t max_queued = 100'000; // take() requests waiting; past it, answered "none" at once
};

struct rescue_stats {
  std::atomic<std::uint64_t> sessions{0}; // taken over from nodes not running
  std::atomic<std::uint64_t> messages{0}; // their messages
  std::atomic<std::uint64_t> failures{0}; // looks and moves the store failed (retried later)
};

class session_rescue {
public:
  // `from`: the node the session came from; empty when there was none to take.
  using taken_fn = std::function<void(std::string from)>;

  // Connects to PostgreSQL; throws store::open_error.
  session_rescue(broker::broker& b, node& n, rescue_options o);
  ~session_rescue();
  session_rescue(const session_rescue&) = delete;
  session_rescue& operator=(const session_rescue&) = delete;

  void start();
  void stop(); // idempotent; a take() queued then is answered "none"

  // Takes over the session of `key` that a node not running left, if any, onto worker `prefer`;
  // `done` on this object's thread once it is added and committed here (or there was none).
  void take(std::string key, unsigned prefer, taken_fn done);

  const rescue_stats& stats() const noexcept { return stats_; }

private:
  struct request {
    std::string key;
    unsigned prefer = 0;
    taken_fn done;
  };
  void run();
  void take_now(request& r);
  // Counts a store failure; true when it is one to log (the first, then every 1000th).
  bool failed();
  void sweep(std::chrono::steady_clock::time_point now);
  // Moves `node`'s sessions (every one, or the one of `key`) here; the number moved, or none
  // when the node's lock is not free or the move failed.
  std::optional<std::size_t> move(const std::string& node, std::optional<std::string> key,
                                  unsigned prefer, std::vector<std::string>* keys);

  broker::broker& broker_;
  node& node_;
  rescue_options opts_;
  store::pg_session_vault vault_; // this object's thread only
  rescue_stats stats_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<request> queue_;
  bool stopping_ = false;
  std::thread thread_;

  // The thread's own.
  std::optional<std::chrono::steady_clock::time_point> joined_; // on NATS since
  std::vector<std::string> holders_;                   // nodes with sessions stored, but this one
  std::chrono::steady_clock::time_point holders_at_{}; // when to read them again
};

} // namespace thingport::cluster
