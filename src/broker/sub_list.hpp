// Private to broker/: the subscribers of one topic_index node (see topic_index.cpp).
// Not thread-safe by itself: topic_index guards it with its lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <vector>

#include "broker/topic_index.hpp"
#include "broker/topic_tree.hpp"

namespace thingport::broker::detail {

// Subscribers of one filter, each id once. Most filters have exactly one subscriber (a device's
// own topics), kept inline; a shared filter (a broadcast topic, an application's wildcard) may
// have thousands, kept unsorted in one array plus, past index_min entries, an open-addressing
// index from id to position: subscribe and unsubscribe stay O(1) at any size (unsubscribe
// moves the last entry into the hole). 16 bytes in the node.
class sub_list {
public:
  sub_list() noexcept : one_(0) {}
  ~sub_list() {
    if (heap_)
      free_block(block_);
  }
  sub_list(const sub_list&) = delete;
  sub_list& operator=(const sub_list&) = delete;

  bool empty() const noexcept { return size_ == 0; }

  // Returns true when `id` is new. Strong guarantee on bad_alloc.
  bool upsert(subscriber_id id, std::uint8_t qos) {
    if (!heap_) {
      if (size_ == 0) {
        one_ = id;
        one_qos_ = qos;
        size_ = 1;
        return true;
      }
      if (one_ == id) {
        one_qos_ = qos;
        return false;
      }
      block* b = new_block(4);
      b->items()[0] = {one_, one_qos_};
      b->items()[1] = {id, qos};
      block_ = b;
      heap_ = true;
      size_ = 2;
      return true;
    }
    if (subscriber_match* m = find(id)) {
      m->qos = qos;
      return false;
    }
    if (size_ == block_->cap)
      resize_block(block_->cap * 2, false);
    if (size_ + 1 > index_min)
      reserve_index(size_ + 1);
    block_->items()[size_] = {id, qos};
    if (block_->index != nullptr)
      block_->index[free_slot(id)] = size_ + 1;
    ++size_;
    return true;
  }

  // Returns true when `id` was present.
  bool erase(subscriber_id id) noexcept {
    if (!heap_) {
      if (size_ == 0 || one_ != id)
        return false;
      size_ = 0;
      return true;
    }
    block* const b = block_;
    subscriber_match* const items = b->items();
    const std::uint32_t last = size_ - 1;
    std::uint32_t pos = 0;
    if (b->index != nullptr) {
      const std::uint32_t slot = find_slot(id);
      if (slot == no_slot)
        return false;
      pos = b->index[slot] - 1;
      remove_slot(slot);
      if (pos != last)
        b->index[find_slot(items[last].id)] = pos + 1;
    } else {
      while (pos < size_ && items[pos].id != id)
        ++pos;
      if (pos == size_)
        return false;
    }
    items[pos] = items[last];
    size_ = last;
    shrink();
    return true;
  }

  void append_to(std::vector<subscriber_match>& out) const {
    if (!heap_) {
      if (size_ != 0)
        out.push_back({one_, one_qos_});
      return;
    }
    const subscriber_match* items = block_->items();
    out.insert(out.end(), items, items + size_);
  }

private:
  static constexpr std::uint32_t index_min = 16;
  static constexpr std::uint32_t no_slot = std::numeric_limits<std::uint32_t>::max();

  struct block {
    std::uint32_t cap;
    std::uint32_t index_cap; // power of two, load <= 1/2; 0 without an index
    std::uint32_t* index;    // position + 1 per slot, 0 = free
    subscriber_match* items() noexcept { return reinterpret_cast<subscriber_match*>(this + 1); }
  };
  static_assert(sizeof(block) % alignof(subscriber_match) == 0);

  static block* new_block(std::uint32_t cap, bool nothrow = false) {
    const std::size_t bytes = sizeof(block) + std::size_t{cap} * sizeof(subscriber_match);
    void* mem = nothrow ? ::operator new(bytes, std::nothrow) : ::operator new(bytes);
    return mem == nullptr ? nullptr : ::new (mem) block{cap, 0, nullptr};
  }

  static void free_block(block* b) noexcept {
    delete[] b->index;
    ::operator delete(static_cast<void*>(b));
  }

  static std::uint32_t home(subscriber_id id, std::uint32_t mask) noexcept {
    return static_cast<std::uint32_t>(mix64(id)) & mask;
  }

  bool resize_block(std::uint32_t cap, bool nothrow) {
    block* b = new_block(cap, nothrow);
    if (b == nullptr)
      return false;
    std::memcpy(static_cast<void*>(b->items()), block_->items(), size_ * sizeof(subscriber_match));
    b->index_cap = block_->index_cap;
    b->index = block_->index;
    ::operator delete(static_cast<void*>(block_));
    block_ = b;
    return true;
  }

  // Makes the index hold `n` entries at load <= 1/2, rebuilding it from the items.
  bool reserve_index(std::uint32_t n, bool nothrow = false) {
    if (block_->index != nullptr && std::uint64_t{n} * 2 <= block_->index_cap)
      return true;
    std::uint32_t cap = 64;
    while (cap < std::uint64_t{n} * 2)
      cap *= 2;
    return rebuild_index(cap, nothrow);
  }

  bool rebuild_index(std::uint32_t cap, bool nothrow) {
    std::uint32_t* index =
        nothrow ? new (std::nothrow) std::uint32_t[cap]() : new std::uint32_t[cap]();
    if (index == nullptr)
      return false;
    delete[] block_->index;
    block_->index = index;
    block_->index_cap = cap;
    const subscriber_match* items = block_->items();
    for (std::uint32_t i = 0; i < size_; ++i)
      index[free_slot(items[i].id)] = i + 1;
    return true;
  }

  subscriber_match* find(subscriber_id id) noexcept {
    subscriber_match* items = block_->items();
    if (block_->index == nullptr) {
      for (std::uint32_t i = 0; i < size_; ++i)
        if (items[i].id == id)
          return &items[i];
      return nullptr;
    }
    const std::uint32_t slot = find_slot(id);
    return slot == no_slot ? nullptr : &items[block_->index[slot] - 1];
  }

  std::uint32_t find_slot(subscriber_id id) const noexcept {
    const std::uint32_t mask = block_->index_cap - 1;
    const subscriber_match* items = block_->items();
    for (std::uint32_t i = home(id, mask);; i = (i + 1) & mask) {
      const std::uint32_t p = block_->index[i];
      if (p == 0)
        return no_slot;
      if (items[p - 1].id == id)
        return i;
    }
  }

  std::uint32_t free_slot(subscriber_id id) const noexcept {
    const std::uint32_t mask = block_->index_cap - 1;
    std::uint32_t i = home(id, mask);
    while (block_->index[i] != 0)
      i = (i + 1) & mask;
    return i;
  }

  // Backward-shift deletion (linear probing without tombstones).
  void remove_slot(std::uint32_t i) noexcept {
    std::uint32_t* const index = block_->index;
    const std::uint32_t mask = block_->index_cap - 1;
    const subscriber_match* items = block_->items();
    for (std::uint32_t j = (i + 1) & mask; index[j] != 0; j = (j + 1) & mask) {
      const std::uint32_t h = home(items[index[j] - 1].id, mask);
      const bool stays = i < j ? (h > i && h <= j) : (h > i || h <= j);
      if (!stays) {
        index[i] = index[j];
        i = j;
      }
    }
    index[i] = 0;
  }

  // Gives memory back after unsubscribes; any failed reallocation is simply skipped.
  void shrink() noexcept {
    block* const b = block_;
    if (size_ <= 1) {
      const subscriber_match only = size_ == 1 ? b->items()[0] : subscriber_match{};
      free_block(b);
      heap_ = false;
      one_ = only.id;
      one_qos_ = only.qos;
      return;
    }
    if (b->index != nullptr) {
      if (size_ <= index_min / 2) {
        delete[] b->index;
        b->index = nullptr;
        b->index_cap = 0;
      } else if (std::uint64_t{size_} * 8 < b->index_cap && b->index_cap > 64) {
        rebuild_index(b->index_cap / 2, true);
      }
    }
    if (std::uint64_t{size_} * 4 < b->cap && b->cap > 4)
      resize_block(b->cap / 2, true);
  }

  union {
    subscriber_id one_; // !heap_
    block* block_;      // heap_
  };
  std::uint32_t size_ = 0;
  std::uint8_t one_qos_ = 0;
  bool heap_ = false;
};

} // namespace thingport::broker::detail
