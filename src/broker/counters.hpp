// Broker statistics. Each worker owns one set (relaxed atomics written by its own thread, read by
// the metrics endpoint); broker::total() sums them.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "broker/close_reason.hpp"

namespace thingport::broker {

struct counters {
  std::atomic<std::uint64_t> connections{0}; // accepted sockets
  std::atomic<std::uint64_t> connects{0};    // CONNACK 0 sent
  std::atomic<std::uint64_t> connect_refused{0};
  std::atomic<std::uint64_t> publish_in{0};
  std::atomic<std::uint64_t> publish_denied{0};
  std::atomic<std::uint64_t> dropped_queue_full{0};
  std::atomic<std::uint64_t> dropped_offline_qos0{0};
  std::atomic<std::uint64_t> dropped_expired{0};     // queued past offline_ttl
  std::atomic<std::uint64_t> dropped_disk_budget{0}; // for stored sessions over disk_budget
  std::array<std::atomic<std::uint64_t>, 6> refused_by_code{}; // by CONNACK return code 0..5
  std::atomic<std::uint64_t> will_denied{0};   // CONNECTs refused for a will they may not publish
  std::atomic<std::uint64_t> retain_denied{0}; // retain flags not kept (topic not retainable)
  std::atomic<std::uint64_t> subscribe_denied{0}; // SUBSCRIBE filters answered 0x80
  // Deliveries posted from this worker to another (the subscriber's session lives there): the
  // trips between threads a message takes after the worker that routed it.
  std::atomic<std::uint64_t> handoffs{0};
  // QoS 1/2 messages queued past a connected subscriber's bound instead of dropped, their
  // publisher's acknowledgement held until sent ([limits] overload = "backpressure").
  std::atomic<std::uint64_t> held{0};
  // Persistent sessions given to another node (its client logged in there) and taken from one
  // (session_move.cpp; a cluster only).
  std::atomic<std::uint64_t> sessions_moved_out{0};
  std::atomic<std::uint64_t> sessions_moved_in{0};
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(close_reason::count_)> closes{};
};

} // namespace thingport::broker
