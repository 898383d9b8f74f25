// An application message as the broker routes it: immutable once built and shared (ref-counted)
// by every subscriber, queue and retained slot that holds it, so a payload is never copied per
// subscriber.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace thingport::broker {

struct message {
  std::string topic;
  std::string payload;
  std::uint8_t qos = 0; // QoS it was published with
  bool retain = false;
  std::uint64_t id = 0;     // broker-wide message id (monotonic per node), 0 = unassigned
  std::uint64_t origin = 0; // the publishing session's subscriber id; 0 = not a client
  std::uint8_t kind = 0;    // what the publish consumer classified it as; 0 = not its
};

using message_ptr = std::shared_ptr<const message>;

inline message_ptr make_message(std::string_view topic, std::string_view payload, std::uint8_t qos,
                                bool retain, std::uint64_t id = 0, std::uint64_t origin = 0,
                                std::uint8_t kind = 0) {
  return std::make_shared<const message>(
      message{std::string(topic), std::string(payload), qos, retain, id, origin, kind});
}

} // namespace thingport::broker
