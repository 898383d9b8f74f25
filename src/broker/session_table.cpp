#include "broker/session_table.hpp"

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
  return c == nullptr ? nullptr : &(*c)[slot & (chunk_size - 1)];
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
      for (auto& e : *fresh)
        e.store(std::uint64_t{free_home}, std::memory_order_relaxed);
      c.store(fresh, std::memory_order_release);
    }
  }
  auto* e = entry(slot);
  const std::uint64_t gen = (e->load(std::memory_order_relaxed) >> 32) + 1;
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
