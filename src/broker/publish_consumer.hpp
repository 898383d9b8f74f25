// The router's seam for the thing layer (DESIGN.md §2): a consumer that gets the PUBLISHes
// devices make on thing topics (/sys/..., /ext/ntp, /ext/rrpc, /shadow/update,
// /ota/device/inform), after the permission check allowed them and beside the ordinary routing
// to subscribers (applications may subscribe to those topics, PROTOCOL.md §8).
//
// Threads: consume() is called on the publishing connection's worker thread; it must not block
// (queue the message for a thread of its own). Messages of one connection come in order.
#pragma once

#include <memory>
#include <string_view>

#include "broker/message.hpp"

namespace thingport::broker {

struct client_identity;

class publish_consumer {
public:
  virtual ~publish_consumer() = default;
  virtual void consume(const std::shared_ptr<const client_identity>& who, const message_ptr& m) = 0;
};

// A cheap first look, so that custom topics (/{pk}/{dn}/...) cost one comparison or two: true
// for every topic the thing layer serves, and for some it does not (the consumer looks again).
inline bool maybe_thing_topic(std::string_view t) noexcept {
  if (t.size() < 5 || t[0] != '/')
    return false;
  return t.starts_with("/sys/") || t.starts_with("/ext/") || t.starts_with("/shadow/") ||
         t.starts_with("/ota/");
}

} // namespace thingport::broker
