#include "cluster/failover.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <iterator>
#include <set>
#include <spdlog/spdlog.h>
#include <stdexcept>

#include "broker/broker.hpp"
#include "cluster/node.hpp"
#include "cluster/stop_thread.hpp"
#include "mqtt/packet.hpp"

namespace thingport::cluster {

namespace {

using steady = std::chrono::steady_clock;

std::string incarnation_id() {
  unsigned char r[8];
  if (RAND_bytes(r, sizeof r) != 1)
    throw std::runtime_error("RAND_bytes failed");
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  for (auto c : r) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

} // namespace

failover::failover(broker::broker& b, const node& n, failover_options o)
    : broker_(b), node_(n), opts_(std::move(o)), incarnation_(incarnation_id()),
      table_(opts_.db, n.name(), incarnation_) {}

failover::~failover() {
  stop();
}

void failover::start() {
  thread_ = std::thread([this] { run(); });
}

void failover::stop() {
  stop_thread(mu_, cv_, stopping_, thread_);
}

void failover::link_up(const broker::client_identity& who, std::string_view key,
                       std::uint64_t serial, const mqtt::will_message* will) {
  auto device = opts_.device_of ? opts_.device_of(who) : std::nullopt;
  if (!device && will == nullptr)
    return; // nothing a survivor would do for it
  link_row r;
  r.serial = serial;
  r.key = std::string(key);
  if (device) {
    r.product_key = std::move(device->first);
    r.device_name = std::move(device->second);
  }
  if (will != nullptr) {
    r.will_topic = will->topic;
    r.will_payload = will->payload;
    r.will_qos = will->qos;
    // As the link's own will would be: retained only where its client may retain.
    r.will_retain = will->retain && broker_.policy().may_retain(who, will->topic);
  }
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_)
      return;
    if (pending_up_.size() >= opts_.max_pending) {
      stats_.rows_not_recorded.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    wake = idle();
    rows_.insert(serial);
    pending_up_.emplace(serial, std::move(r));
  }
  if (wake)
    cv_.notify_one();
}

void failover::link_down(std::uint64_t serial) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (rows_.erase(serial) == 0)
      return; // no row
    // Up and down before the thread wrote it: neither goes to PostgreSQL, nor its sub-devices
    // (their logins came after the link's, so none of them is written either).
    if (pending_up_.erase(serial) != 0) {
      std::erase_if(pending_subs_, [&](const auto& c) { return c.serial == serial; });
      return;
    }
    wake = idle();
    pending_down_.push_back(serial);
  }
  if (wake)
    cv_.notify_one();
}

void failover::sub_up(std::uint64_t serial, std::string_view pk, std::string_view dn) {
  sub_change(serial, pk, dn, true);
}

void failover::sub_down(std::uint64_t serial, std::string_view pk, std::string_view dn) {
  sub_change(serial, pk, dn, false);
}

void failover::sub_change(std::uint64_t serial, std::string_view pk, std::string_view dn, bool up) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_ || !rows_.contains(serial))
      return; // the gateway's link has no row: nothing would delete this one
    if (pending_subs_.size() >= opts_.max_pending) {
      stats_.rows_not_recorded.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    wake = idle();
    pending_subs_.push_back({serial, std::string(pk), std::string(dn), up});
  }
  if (wake)
    cv_.notify_one();
}

void failover::run() {
  auto next_sweep = steady::now();
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, next_sweep, [&] { return stopping_ || !idle(); });
      if (stopping_) {
        lock.unlock();
        write_pending(); // the links closed at shutdown: their rows go
        return;
      }
    }
    write_pending();
    if (const auto now = steady::now(); now >= next_sweep) {
      sweep(now);
      next_sweep = steady::now() + opts_.sweep_every;
    }
  }
}

void failover::write_pending() {
  std::vector<link_row> up;
  std::vector<cluster::sub_change> subs;
  std::vector<std::uint64_t> down;
  {
    std::lock_guard lock(mu_);
    if (idle())
      return;
    up.reserve(pending_up_.size());
    for (auto& [serial, row] : pending_up_)
      up.push_back(std::move(row));
    pending_up_.clear();
    subs.swap(pending_subs_);
    down.swap(pending_down_);
  }
  // Inserts before deletes, so a row written and closed while this ran goes in one transaction.
  if (auto ec = table_.write(up, subs, down); ec) {
    stats_.write_failures.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("cluster: {} link records not written ({}); retried",
                 up.size() + subs.size() + down.size(), ec.message());
    std::lock_guard lock(mu_);
    for (auto& r : up) {
      if (rows_.contains(r.serial)) {
        pending_up_.emplace(r.serial, std::move(r));
      } else {
        pending_down_.push_back(r.serial); // closed meanwhile; the delete is harmless
      }
    }
    // Before what came meanwhile: the order of a sub-device's logins and logouts holds.
    subs.insert(subs.end(), std::make_move_iterator(pending_subs_.begin()),
                std::make_move_iterator(pending_subs_.end()));
    pending_subs_.swap(subs);
    pending_down_.insert(pending_down_.end(), down.begin(), down.end());
    return;
  }
  stats_.rows_written.fetch_add(up.size() + subs.size() + down.size(), std::memory_order_relaxed);
}

void failover::sweep(steady::time_point now) {
  if (!node_.linked()) {
    joined_.reset(); // cut off: every peer looks down; wait to hear them again
    return;
  }
  if (!joined_)
    joined_ = now;
  if (!own_done_) {
    own_done_ = true;
    take(node_.name(), incarnation_); // what this node's last incarnation left
  }
  if (now - *joined_ < opts_.down_after + opts_.sweep_every)
    return;
  const auto nodes = node_.nodes(); // sorted by name, this node included (up)
  std::vector<std::string> alive;
  for (const auto& n : nodes)
    if (n.up)
      alive.push_back(n.node);
  if (alive.empty() || alive.front() != node_.name())
    return; // the smallest alive node acts
  auto others = table_.other_nodes();
  if (!others) {
    spdlog::warn("cluster: cannot read the nodes' link records: {}", others.error().message());
    return;
  }
  for (const auto& n : *others)
    if (!std::binary_search(alive.begin(), alive.end(), n))
      take(n, {});
}

void failover::take(const std::string& dead, const std::string& keep) {
  auto rows = table_.take(dead, keep);
  if (!rows) {
    spdlog::warn("cluster: cannot take the link records of node {}: {}", dead,
                 rows.error().message());
    return;
  }
  auto subs = table_.take_subs(dead, keep);
  if (!subs) {
    spdlog::warn("cluster: cannot take the sub-device records of node {}: {}", dead,
                 subs.error().message());
    subs = std::vector<taken_sub>{}; // the next sweep takes them (the node stays listed)
  }
  if (rows->empty() && subs->empty())
    return;
  std::size_t wills = 0, devices = 0, moved = 0;
  std::set<std::pair<std::string, std::string>> offline; // once each (a device's link, or a sub)
  auto lost = [&](const std::string& pk, const std::string& dn) {
    if (opts_.device_lost && offline.emplace(pk, dn).second) {
      opts_.device_lost(pk, dn);
      ++devices;
    }
  };
  for (auto& t : *rows) {
    if (t.moved) {
      ++moved;
      continue;
    }
    if (auto& r = t.row; r.will_topic) {
      broker_.publish(broker::make_message(*r.will_topic, r.will_payload, r.will_qos, r.will_retain,
                                           r.will_qos > 0 ? broker_.next_message_id() : 0));
      ++wills;
    }
    if (!t.row.product_key.empty())
      lost(t.row.product_key, t.row.device_name);
  }
  for (const auto& s : *subs) {
    if (s.moved) {
      ++moved;
      continue;
    }
    lost(s.product_key, s.device_name);
  }
  stats_.wills_published.fetch_add(wills, std::memory_order_relaxed);
  stats_.devices_offline.fetch_add(devices, std::memory_order_relaxed);
  stats_.moved.fetch_add(moved, std::memory_order_relaxed);
  spdlog::info("cluster: node {}{} left {} links and {} sub-device logins: {} wills published, "
               "{} devices set offline, {} logged in again elsewhere",
               dead, keep.empty() ? " is down and" : " (this node's last run)", rows->size(),
               subs->size(), wills, devices, moved);
}

} // namespace thingport::cluster
