// A dead node's devices and wills (docs/cluster.md "When a node dies"). Each node records in
// PostgreSQL (link_table.hpp) the links it holds that have a will or are a device's; when a node
// is not heard for the membership bound, one survivor (the alive node with the smallest name)
// takes that node's rows (one DELETE ... RETURNING: once, however many survivors race) and, for
// each key that has not logged in again elsewhere, publishes its will through the broker (so the
// cluster routes it to every node) and sets its device OFFLINE through the status path; the
// sub-devices logged in through a gateway's link there (sub_up) go OFFLINE in the same sweep.
// A node that starts does the same with the rows of its own last incarnation.
//
// Threads: link_up/link_down/sub_up/sub_down run on any thread and only queue (bounded); one
// thread of its
// own writes the queue in batches (one transaction each) and sweeps (every sweep_every).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "cluster/link_table.hpp"

namespace thingport::mqtt {
struct will_message;
}

namespace thingport::broker {
class broker;
struct client_identity;
} // namespace thingport::broker

namespace thingport::cluster {

class node;

struct failover_options {
  store::pg::options db;
  // A peer not heard for this long is down (membership's bound); a node sweeps only once it
  // has been on NATS this long (before, it has not heard every peer yet).
  std::chrono::milliseconds down_after{5000};
  std::chrono::milliseconds sweep_every{500};
  // The device (productKey, deviceName) a link logged in as, or none. Worker threads.
  std::function<std::optional<std::pair<std::string, std::string>>(const broker::client_identity&)>
      device_of;
  // A dead node's device: OFFLINE through the status path unless it is online here. This
  // object's thread.
  std::function<void(const std::string& pk, const std::string& dn)> device_lost;
  std::size_t max_pending = 1'000'000; // rows waiting to be written; past it, not recorded
};

struct failover_stats {
  std::atomic<std::uint64_t> rows_written{0};
  std::atomic<std::uint64_t> rows_not_recorded{0}; // queue full
  std::atomic<std::uint64_t> write_failures{0};
  std::atomic<std::uint64_t> wills_published{0}; // of dead nodes' links
  std::atomic<std::uint64_t> devices_offline{0}; // of dead nodes, sub-devices included
  std::atomic<std::uint64_t> moved{0};           // keys that had logged in again elsewhere
};

class failover {
public:
  // Connects to PostgreSQL and creates the table when needed; throws store::open_error.
  failover(broker::broker& b, const node& n, failover_options o);
  ~failover();
  failover(const failover&) = delete;
  failover& operator=(const failover&) = delete;

  void start();
  void stop(); // writes what is queued first; idempotent

  void link_up(const broker::client_identity& who, std::string_view key, std::uint64_t serial,
               const mqtt::will_message* will);
  void link_down(std::uint64_t serial);
  // Sub-device pk/dn logged in (or out) through the gateway link `serial` held here.
  void sub_up(std::uint64_t serial, std::string_view pk, std::string_view dn);
  void sub_down(std::uint64_t serial, std::string_view pk, std::string_view dn);

  const failover_stats& stats() const noexcept { return stats_; }

private:
  void run();
  void write_pending();
  void sweep(std::chrono::steady_clock::time_point now);
  void take(const std::string& node, const std::string& keep);
  void sub_change(std::uint64_t serial, std::string_view pk, std::string_view dn, bool up);
  bool idle() const {
    return pending_up_.empty() && pending_down_.empty() && pending_subs_.empty();
  } // mu_

  broker::broker& broker_;
  const node& node_;
  failover_options opts_;
  std::string incarnation_;
  link_table table_; // this object's thread only (and the constructor)
  failover_stats stats_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_set<std::uint64_t> rows_;                 // serials that have a row (or will)
  std::unordered_map<std::uint64_t, link_row> pending_up_; // not written yet
  std::vector<std::uint64_t> pending_down_;
  std::vector<cluster::sub_change> pending_subs_; // in order
  bool stopping_ = false;
  std::thread thread_;

  // The thread's own.
  std::optional<std::chrono::steady_clock::time_point> joined_; // on NATS since
  bool own_done_ = false;
};

} // namespace thingport::cluster
