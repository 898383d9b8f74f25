// The seam for a layer that joins this broker to others (cluster/): it hears what is published
// and subscribed on this node, learns which sessions log in here, and may refuse new logins.
// The core knows nothing of what is behind it; without one attached (broker::attach_bridge)
// every call site is one null check.
//
// Threads: every member is called on worker threads, concurrently on different workers, and
// must not block (queue the work for a thread of its own). Calls of one connection come in
// order, so a publisher's messages reach the bridge in the order it sent them.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "broker/message.hpp"

namespace thingport::mqtt {
struct will_message;
}

namespace thingport::broker {

struct client_identity;

class bridge {
public:
  virtual ~bridge() = default;
  // A message accepted on this node (a client's PUBLISH, a will, broker::publish and
  // publish_to) and routed to the local subscribers (shared, not copied: the bridge may keep it);
  // `retain`: it is also the topic's retained message. Messages that came from the bridge
  // (broker::publish_remote) are not passed back.
  virtual void published(const message_ptr& m, bool retain) = 0;
  // A session on this node subscribed to `filter` (added) or left it (removed): the bridge counts
  // them per filter.
  virtual void interest(std::string_view filter, bool added) = 0;
  // Calls `done` (on a thread of the bridge's: post from there) once every interest change
  // handed over before is known to the other nodes, so that what they publish from then on
  // reaches this node; `confirmed` false when that took longer than the bridge's bound (it is
  // called anyway). A SUBACK that added interest waits for it.
  virtual void confirm(std::function<void(bool confirmed)> done) = 0;
  // A client with session key `key` passed authentication here: the bridge tells the other
  // nodes, which close their connection of that key (one link per key, cluster-wide).
  virtual void claimed(std::string_view key) = 0;
  // The same for a client that asks for its persistent session (cleanSession=0): the other nodes
  // also give up the session they hold for `key`, which the bridge adds to this node's
  // (broker::absorb_session, made on worker `prefer`); `done` (on a thread of the bridge's: post
  // from there) once each node up answered and what it sent is added, or the bridge's bound
  // passed (a session that comes later is still added). The CONNACK waits for it.
  virtual void claim_session(std::string_view key, unsigned /*prefer*/,
                             std::function<void()> done) {
    claimed(key);
    done();
  }
  // False while the bridge cannot reach the others: new logins are refused with CONNACK 3.
  virtual bool ready() const noexcept = 0;
  // A link logged in here (CONNACK sent; `serial` is the connection's) and, later, closed
  // (its will, if due, already routed): the bridge may record what this node holds, for the
  // others to act on when this node dies (a dead node's wills and devices). `will` is null
  // when the link has none. Default: nothing.
  virtual void link_up(const client_identity& /*who*/, std::string_view /*key*/,
                       std::uint64_t /*serial*/, const mqtt::will_message* /*will*/) {}
  virtual void link_down(std::uint64_t /*serial*/) {}
};

} // namespace thingport::broker
