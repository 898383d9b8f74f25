// Who is in the cluster, from the heartbeats each node sends every second (docs/cluster.md).
// A peer not heard for `down_after` is down; one not heard for `forget_after`, or that said it
// left (a node stopping cleanly), is no longer listed; when there are too many (max_peers) the
// oldest heard goes. Thread-safe: heard() runs on the NATS delivery thread,
// list() on the API's.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace thingport::cluster {

using steady = std::chrono::steady_clock;

struct node_status {
  std::string node;
  bool up = true;
  std::uint64_t connections = 0;
  std::uint64_t devices_online = 0;
  bool draining = false; // `thingport node drain`: up, refusing logins, closing its links
};

class membership {
public:
  static constexpr std::size_t max_peers = 1024;

  explicit membership(std::string self,
                      std::chrono::milliseconds down_after = std::chrono::seconds(5),
                      std::chrono::milliseconds forget_after = std::chrono::minutes(10));

  const std::string& self() const noexcept { return self_; }
  // A heartbeat of `node` (this node's own name is ignored). True when `node` is new to this
  // node: never heard, said it left, or down (the caller answers with its own heartbeat at once,
  // so a node that joins lists its peers within a round trip, not a heartbeat period).
  bool heard(std::string_view node, std::uint64_t connections, std::uint64_t devices_online,
             steady::time_point now, bool draining = false);
  // `node` stopped cleanly (its last heartbeat said so): no longer listed, until heard again.
  void left(std::string_view node);
  // This node (`self`, always up) and every peer heard within forget_after, sorted by name.
  std::vector<node_status> list(node_status self, steady::time_point now) const;
  // The peers heard within `within` of `now` (a claim waits for those only: a peer silent for
  // longer is likely dead, though not yet down).
  std::vector<std::string> heard_within(steady::time_point now,
                                        std::chrono::milliseconds within) const;

private:
  struct peer {
    std::uint64_t connections = 0;
    std::uint64_t devices_online = 0;
    bool draining = false;
    steady::time_point last{};
  };
  std::string self_;
  std::chrono::milliseconds down_after_;
  std::chrono::milliseconds forget_after_;
  mutable std::mutex mu_;
  std::map<std::string, peer, std::less<>> peers_;
};

} // namespace thingport::cluster
