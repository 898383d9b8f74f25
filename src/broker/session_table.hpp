// subscriber_id -> the worker that owns the session, readable from any thread without a lock.
// An id is (generation << 32 | slot); a released slot gets a new generation, so a stale id found
// in a batch in flight never reaches the session that reuses the slot.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "broker/topic_index.hpp"

namespace thingport::broker {

// Where a session lives, and whether it is kept in the session store (a delivery to it may
// make the publisher's acknowledgement wait for a commit).
struct session_location {
  unsigned home = 0;
  bool persistent = false;
};

class session_table {
public:
  session_table();
  ~session_table();
  session_table(const session_table&) = delete;
  session_table& operator=(const session_table&) = delete;

  subscriber_id allocate(unsigned home, bool persistent = false);
  void release(subscriber_id id);
  void set_home(subscriber_id id, unsigned home);
  std::optional<session_location> lookup(subscriber_id id) const noexcept;
  std::optional<unsigned> home(subscriber_id id) const noexcept {
    auto l = lookup(id);
    return l ? std::optional<unsigned>(l->home) : std::nullopt;
  }
  std::size_t live() const noexcept { return live_.load(std::memory_order_relaxed); }

  // A session's backlog as routers on any worker see it (the backpressure of [limits] overload):
  // QoS 1/2 messages in its queue (stored by its owner) plus those routed to it from other
  // workers and not arrived yet. A stale id reads 0 and changes nothing.
  // Counts a delivery leaving for the session's worker; returns the backlog before it.
  std::uint32_t add_transit(subscriber_id id) noexcept;
  // The queue length its owner last stored (no count taken); 0 for a stale id.
  std::uint32_t queued(subscriber_id id) const noexcept;
  void transit_done(subscriber_id id) noexcept; // the delivery arrived (or was dropped)
  void set_queued(subscriber_id id, std::size_t n) noexcept; // by the session's owner

private:
  static constexpr std::size_t chunk_bits = 12;
  static constexpr std::size_t chunk_size = std::size_t{1} << chunk_bits;
  static constexpr std::size_t max_chunks = std::size_t{1} << 18; // 1G sessions
  static constexpr std::uint32_t free_home = 0xffffffffu;
  static constexpr std::uint32_t persistent_bit = 0x80000000u; // below free_home
  struct chunk {
    std::array<std::atomic<std::uint64_t>, chunk_size> entries; // gen << 32 | flag | home
    std::array<std::atomic<std::uint32_t>, chunk_size> queued;
    std::array<std::atomic<std::uint32_t>, chunk_size> transit;
  };
  struct slot_ref {
    chunk* c;
    std::size_t i;
  };

  std::atomic<std::uint64_t>* entry(std::uint32_t slot) const noexcept;
  // The chunk and index of a live id; c == nullptr when it is stale or was never allocated.
  slot_ref live_slot(subscriber_id id) const noexcept;

  std::unique_ptr<std::atomic<chunk*>[]> chunks_;
  std::mutex mu_; // allocate/release
  std::vector<std::uint32_t> free_;
  std::uint32_t next_slot_ = 0;
  std::atomic<std::size_t> live_{0};
};

} // namespace thingport::broker
