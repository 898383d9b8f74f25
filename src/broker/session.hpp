// A client session: what survives a connection when cleanSession=0 (subscriptions, QoS 1/2
// messages in flight and queued, inbound QoS 2 ids). Owned by exactly one worker and touched
// only on that worker's thread; moved to another worker on takeover (docs/threads.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/container/devector.hpp>

#include "broker/message.hpp"
#include "broker/policy.hpp"
#include "broker/topic_index.hpp"
#include "mqtt/packet.hpp"

namespace thingport::broker {

class client;
struct ack_token;

struct queued_message {
  message_ptr msg;
  std::uint8_t qos = 1;
  bool retain = false;         // delivered as a retained message (on SUBSCRIBE)
  std::uint64_t seq = 0;       // its entry in the session store; 0: not stored
  std::int64_t expires_ms = 0; // Unix ms after which it is dropped; 0: never
  // Queued past the session's bound ([limits] overload = "backpressure"): the publisher's
  // acknowledgement waits until this is let go (sent, or the session went offline or away).
  std::shared_ptr<ack_token> hold;
};

struct inflight_message {
  message_ptr msg;
  std::uint16_t packet_id = 0;
  std::uint8_t qos = 1;
  bool retain = false;
  bool released = false; // QoS 2: PUBREC received, PUBREL sent, waiting for PUBCOMP
  std::uint64_t seq = 0; // its entry in the session store; 0: not stored
};

class session {
public:
  session(subscriber_id id, std::string key) : id_(id), key_(std::move(key)) {}

  subscriber_id id() const noexcept { return id_; }
  const std::string& key() const noexcept { return key_; }

  // Next free packet id (1..65535), skipping ids still in flight.
  std::uint16_t next_packet_id() noexcept;
  inflight_message* find_inflight(std::uint16_t packet_id) noexcept;
  bool erase_inflight(std::uint16_t packet_id) noexcept;

  // Replaces the QoS of an existing filter or adds it; returns true when new.
  bool add_subscription(const std::string& filter, std::uint8_t qos);
  bool remove_subscription(std::string_view filter);

  bool persistent = false;    // cleanSession = 0
  bool budgeted = false;      // counted in its credential's persistent-session budget
  bool stored = false;        // kept in the session store: every change is written there
  std::uint64_t next_seq = 1; // of the next stored entry (order within the session)
  std::shared_ptr<const client_identity> identity;
  std::vector<mqtt::subscription> subscriptions;
  // A devector, not a std::deque: libstdc++'s deque allocates 600 bytes when constructed, and
  // most sessions never queue anything (memory per idle connection, docs/performance.md).
  boost::container::devector<queued_message> queue;
  std::size_t queued_bytes = 0; // topic + payload bytes of `queue` (the byte bound)
  std::vector<inflight_message> inflight;
  std::vector<std::uint16_t> inbound_qos2; // PUBREC sent, PUBREL not yet received
  client* conn = nullptr;                  // attached connection, on this worker
  std::uint64_t dropped = 0;               // messages dropped by a bound since last logged
  // Its queue passed its bound while online: watched as a possible slow consumer; `progress` is
  // when it last acknowledged a delivery (or was first watched).
  bool congested = false;
  std::chrono::steady_clock::time_point progress{};

private:
  subscriber_id id_;
  std::string key_;
  std::uint16_t last_packet_id_ = 0;
};

} // namespace thingport::broker
