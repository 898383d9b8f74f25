// Broker tunables. Defaults are the embedded defaults of README.md.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace thingport::broker {

// What happens to a QoS 1/2 message for an online session whose queue is at its bound
// ([limits] overload, docs/performance.md "Overload").
enum class overload_mode : std::uint8_t {
  backpressure, // queued past the bound; its publisher's acknowledgement waits until it is sent
  drop,         // dropped and counted (dropped_queue_full)
};

struct options {
  unsigned workers = 0;                             // 0 = one per core
  std::size_t max_payload = 262144;                 // bytes ([limits] max_payload)
  std::chrono::milliseconds connect_timeout{10000}; // CONNECT must arrive within this
  std::uint16_t max_inflight = 32; // outbound QoS 1/2 messages awaiting ack, per session
  std::size_t max_queued = 1000;   // QoS 1/2 messages queued per session ([limits] offline_queue)
  std::size_t max_queued_bytes =
      64u << 20; // their topic + payload bytes ([limits] offline_queue_bytes)
  std::uint64_t max_queued_total = 1ull << 30; // queued bytes of all sessions together
                                               // ([limits] offline_total_bytes; 0: no bound)
  std::chrono::milliseconds offline_ttl{
      std::chrono::hours(24 * 7)};             // queued message lifetime
                                               // in a persistent session ([limits] offline_ttl)
  std::size_t max_outbound_bytes = 8u << 20;   // unsent bytes per connection before slow_consumer
  std::uint16_t max_inbound_qos2 = 100;        // inbound QoS 2 exchanges in progress per client
  std::uint16_t max_inbound_qos1 = 100;        // inbound QoS 1 awaiting their PUBACK (the store's
                                               // commit) per client; more: reading pauses
  std::size_t max_connect_size = 16 * 1024;    // a packet before CONNECT is accepted ([limits]
                                               // max_connect_size): bytes held for strangers
  std::size_t max_retained = 100'000;          // retained messages in all ([limits] max_retained)
  std::size_t max_retained_bytes = 256u << 20; // their topic + payload bytes
                                               // ([limits] max_retained_bytes)
  std::uint64_t async_backlog = 100'000;       // durability = async: store operations pending
                                               // before acknowledgements wait for the commit
  overload_mode overload = overload_mode::backpressure; // [limits] overload
  // A subscriber whose queue stays past its bound without acknowledging anything this long is
  // closed as slow_consumer ([limits] slow_consumer), so that it cannot hold publishers forever.
  std::chrono::milliseconds slow_consumer{30000};
  std::uint64_t disk_budget = 0; // session store bytes; over it, messages for stored
                                 // sessions are dropped ([store] disk_budget; 0: none)
};

} // namespace thingport::broker
