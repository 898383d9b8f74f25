// A client session: what survives a connection when cleanSession=0 (subscriptions, QoS 1/2
// messages in flight and queued, inbound QoS 2 ids). Owned by exactly one worker and touched
// only on that worker's thread; moved to another worker on takeover (docs/threads.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
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

// What a session holds only once it is used: subscriptions, messages queued and in flight,
// inbound QoS 2 ids, its store order. An idle clean-session link (most devices) never makes it
// (memory per idle connection, docs/performance.md).
struct session_data {
  std::vector<mqtt::subscription> subscriptions;
  // A devector, not a std::deque: libstdc++'s deque allocates 600 bytes when constructed.
  boost::container::devector<queued_message> queue;
  std::size_t queued_bytes = 0; // topic + payload bytes of `queue` (the byte bound)
  // The holds of messages sent from past the bound: their publishers go on together once the
  // queue is down to a quarter of its bound (a low mark), not one PUBACK per message sent.
  std::vector<std::shared_ptr<ack_token>> sent_holds;
  std::vector<inflight_message> inflight;
  std::vector<std::uint16_t> inbound_qos2; // PUBREC sent, PUBREL not yet received
  std::uint64_t next_seq = 1;              // of the next stored entry (order within the session)
  std::uint64_t dropped = 0;               // messages dropped by a bound since last logged
  // When it last acknowledged a delivery (or was first watched as congested).
  std::chrono::steady_clock::time_point progress{};
};

class session {
public:
  // Keeps its own copy of `key` (a persistent or restored session outlives any connection).
  session(subscriber_id id, std::string_view key);
  // A clean session of a client with an identity key: views `who->session_key`, which the
  // session's `identity` keeps alive (no copy of "d|pk/dn" per device).
  session(subscriber_id id, std::shared_ptr<const client_identity> who);
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  subscriber_id id() const noexcept { return id_; }
  std::string_view key() const noexcept { return {key_data_, key_size_}; }

  // The used parts: data() makes them on first use; view() reads them (empty when not made).
  session_data& data();
  const session_data& view() const noexcept { return data_ ? *data_ : empty_; }
  bool has_data() const noexcept { return data_ != nullptr; }

  // Next free packet id (1..65535), skipping ids still in flight.
  std::uint16_t next_packet_id() noexcept;
  inflight_message* find_inflight(std::uint16_t packet_id) noexcept;
  bool erase_inflight(std::uint16_t packet_id) noexcept;

  // Replaces the QoS of an existing filter or adds it; returns true when new.
  bool add_subscription(const std::string& filter, std::uint8_t qos);
  bool remove_subscription(std::string_view filter);

  std::shared_ptr<const client_identity> identity;
  client* conn = nullptr;      // attached connection, on this worker
  bool persistent : 1 = false; // cleanSession = 0
  bool budgeted : 1 = false;   // counted in its credential's persistent-session budget
  bool stored : 1 = false;     // kept in the session store: every change is written there
  // Its queue passed its bound while online: watched as a possible slow consumer (progress).
  bool congested : 1 = false;

private:
  // The flags in bits, the key as a pointer and a length beside them, instead of a view and an
  // owning pointer: 56 bytes, one allocator size class below 72 (memory per idle device).
  bool owns_key_ : 1 = false; // key_data_ is its own copy (delete[]), else the identity's
  std::uint16_t last_packet_id_ = 0;
  std::uint32_t key_size_ = 0;
  static const session_data empty_;
  subscriber_id id_;
  const char* key_data_ = nullptr;
  std::unique_ptr<session_data> data_;
};

} // namespace thingport::broker
