// A consumer beside the router (docs/design.md): a layer above the core (the device platform's
// thing service) that takes some of the PUBLISHes clients make, after the permission check
// allowed them and beside the ordinary routing to subscribers. Which ones is its own filter:
// classify() names the consumer's kind of a topic (0: not the consumer's), once per PUBLISH, and
// the kind travels with the message (message::kind) so the consumer never classifies it again.
//
// Threads: classify() and consume() are called on the publishing connection's worker thread,
// concurrently on different workers; classify() must be cheap (it sees every PUBLISH) and
// consume() must not block (queue the message for a thread of its own). Messages of one
// connection come in order.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "broker/message.hpp"

namespace thingport::broker {

struct client_identity;

class publish_consumer {
public:
  virtual ~publish_consumer() = default;
  virtual std::uint8_t classify(const client_identity& who, std::string_view topic) const = 0;
  // `m` carries classify()'s kind, never 0.
  virtual void consume(const std::shared_ptr<const client_identity>& who, const message_ptr& m) = 0;
};

} // namespace thingport::broker
