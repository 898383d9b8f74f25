#include "broker/session_table.hpp"

#include <algorithm>
#include <stdexcept>

namespace thingport::broker {

session_table::session_table() : chunks_(new std::atomic<chunk*>[max_chunks]) {
  for (std::size_t i = 0; i < max_chunks; ++i)
    chunks_[i].store(nullptr, std::memory_order_relaxed);
}

session_table::~session_table() {
  for (std::size_t i = 0; i < max_chunks; ++i)
    delete chunks_[i].load(std::memory_order_relaxed);
}

std::atomic<std::uint64_t>* session_table::entry(std::uint32_t slot) const noexcept {
  chunk* c = chunks_[slot >> chunk_bits].load(std::memory_order_acquire);
  return c == nullptr ? nullptr : &c->entries[slot & (chunk_size - 1)];
}

session_table::slot_ref session_table::live_slot(subscriber_id id) const noexcept {
  const auto slot = static_cast<std::uint32_t>(id);
  chunk* c = chunks_[slot >> chunk_bits].load(std::memory_order_acquire);
  if (c == nullptr)
    return {nullptr, 0};
  const std::size_t i = slot & (chunk_size - 1);
  const std::uint64_t v = c->entries[i].load(std::memory_order_acquire);
  if ((v >> 32) != (id >> 32) || static_cast<std::uint32_t>(v) == free_home)
    return {nullptr, 0};
  return {c, i};
}

std::uint32_t session_table::add_transit(subscriber_id id) noexcept {
  const auto r = live_slot(id);
  if (r.c == nullptr)
    return 0;
  const auto before = r.c->transit[r.i].fetch_add(1, std::memory_order_relaxed);
  return before + r.c->queued[r.i].load(std::memory_order_relaxed);
}

std::uint32_t session_table::queued(subscriber_id id) const noexcept {
  const auto r = live_slot(id);
  return r.c == nullptr ? 0 : r.c->queued[r.i].load(std::memory_order_relaxed);
}

void session_table::transit_done(subscriber_id id) noexcept {
  const auto r = live_slot(id);
  if (r.c == nullptr)
    return;
  // Never below zero: allocate() may have reset a count a stale delivery still held.
  auto cur = r.c->transit[r.i].load(std::memory_order_relaxed);
  while (cur != 0 &&
         !r.c->transit[r.i].compare_exchange_weak(cur, cur - 1, std::memory_order_relaxed)) {
  }
}

void session_table::set_queued(subscriber_id id, std::size_t n) noexcept {
  const auto r = live_slot(id);
  if (r.c != nullptr)
    r.c->queued[r.i].store(static_cast<std::uint32_t>(std::min<std::size_t>(n, 0xffffffffu)),
                           std::memory_order_relaxed);
}

subscriber_id session_table::allocate(unsigned home, bool persistent) {
  if (persistent)
    home |= persistent_bit;
  std::lock_guard lock(mu_);
  std::uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    if (next_slot_ >= max_chunks * chunk_size)
      throw std::runtime_error("session table full");
    slot = next_slot_++;
    auto& c = chunks_[slot >> chunk_bits];
    if (c.load(std::memory_order_relaxed) == nullptr) {
      auto* fresh = new chunk;
      for (std::size_t i = 0; i < chunk_size; ++i) {
        fresh->entries[i].store(std::uint64_t{free_home}, std::memory_order_relaxed);
        fresh->queued[i].store(0, std::memory_order_relaxed);
        fresh->transit[i].store(0, std::memory_order_relaxed);
      }
      c.store(fresh, std::memory_order_release);
    }
  }
  auto* e = entry(slot);
  const std::uint64_t gen = (e->load(std::memory_order_relaxed) >> 32) + 1;
  chunk* c = chunks_[slot >> chunk_bits].load(std::memory_order_relaxed);
  c->queued[slot & (chunk_size - 1)].store(0, std::memory_order_relaxed);
  c->transit[slot & (chunk_size - 1)].store(0, std::memory_order_relaxed);
  e->store(gen << 32 | home, std::memory_order_release);
  live_.fetch_add(1, std::memory_order_relaxed);
  return gen << 32 | slot;
}

void session_table::release(subscriber_id id) {
  std::lock_guard lock(mu_);
  const auto slot = static_cast<std::uint32_t>(id);
  auto* e = entry(slot);
  if (e == nullptr || (e->load(std::memory_order_relaxed) >> 32) != (id >> 32))
    return;
  e->store((id >> 32) << 32 | free_home, std::memory_order_release);
  free_.push_back(slot);
  live_.fetch_sub(1, std::memory_order_relaxed);
}

void session_table::set_home(subscriber_id id, unsigned home) {
  auto* e = entry(static_cast<std::uint32_t>(id));
  if (e == nullptr)
    return;
  std::uint64_t cur = e->load(std::memory_order_relaxed);
  // Only the owner of a live id moves it; a CAS keeps a concurrent release() authoritative.
  while ((cur >> 32) == (id >> 32) && static_cast<std::uint32_t>(cur) != free_home) {
    const std::uint64_t flag = static_cast<std::uint32_t>(cur) & persistent_bit;
    if (e->compare_exchange_weak(cur, (id >> 32) << 32 | flag | home, std::memory_order_release))
      return;
  }
}

std::optional<session_location> session_table::lookup(subscriber_id id) const noexcept {
  auto* e = entry(static_cast<std::uint32_t>(id));
  if (e == nullptr)
    return std::nullopt;
  const std::uint64_t v = e->load(std::memory_order_acquire);
  const auto low = static_cast<std::uint32_t>(v);
  if ((v >> 32) != (id >> 32) || low == free_home)
    return std::nullopt;
  return session_location{low & ~persistent_bit, (low & persistent_bit) != 0};
}

} // namespace thingport::broker
