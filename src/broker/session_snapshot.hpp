// A persistent session as it leaves one node for another (docs/cluster.md "Sessions move with
// their clients"): its subscriptions and the QoS 1/2 messages its client has not acknowledged,
// in the order they would have been sent. The cluster layer carries it (cluster/session_wire);
// the broker takes it off one node (broker::surrender_session) and adds it to a session on
// another (broker::absorb_session).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mqtt/packet.hpp"

namespace thingport::broker {

struct session_snapshot {
  struct message {
    std::string topic;
    std::string payload;
    std::uint8_t qos = 1; // the QoS it is delivered at (1 or 2)
    bool retain = false;  // delivered as a retained message
    bool operator==(const message&) const = default;
  };
  std::string key; // the session key ("d|pk/dn" for a device, else the client id)
  std::vector<mqtt::subscription> subscriptions;
  std::vector<message> messages; // in flight first (sent again), then queued
  bool operator==(const session_snapshot&) const = default;
};

// What surrender_session() found: the session taken off this node, or null when there was no
// persistent one (a clean session is closed and gone, nothing to move).
using surrender_done = std::function<void(std::shared_ptr<session_snapshot>)>;

} // namespace thingport::broker
