// Private to broker/: the building blocks shared by the subscription index (topic_index.cpp) and
// the retained store (retained_store.cpp): splitting topics into levels without copying, the
// per-node child table, and one-allocation trie nodes that carry their level name inline.
// Not thread-safe by itself: the owners guard their trees with their own locks.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>

namespace thingport::broker::detail {

// Walks "a//b" as "a", "", "b" and "" as one empty level, as MQTT counts levels (§4.7.1).
class level_splitter {
public:
  explicit level_splitter(std::string_view s) noexcept : s_(s) {}

  bool next(std::string_view& level) noexcept {
    if (done_)
      return false;
    const std::size_t slash = s_.find('/', pos_);
    if (slash == std::string_view::npos) {
      level = s_.substr(pos_);
      done_ = true;
    } else {
      level = s_.substr(pos_, slash - pos_);
      pos_ = slash + 1;
    }
    return true;
  }

  // After next(): was that the last level?
  bool at_end() const noexcept { return done_; }

private:
  std::string_view s_;
  std::size_t pos_ = 0;
  bool done_ = false;
};

inline std::size_t level_count(std::string_view s) noexcept {
  std::size_t n = 1;
  for (const char c : s)
    n += c == '/';
  return n;
}

inline std::uint64_t mix64(std::uint64_t h) noexcept {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

// Levels are short (a device name, "user", "get"): read 8 bytes at a time, mix once at the end.
// The low bits index the open-addressing tables, so the finalizer must spread every input bit.
inline std::uint32_t level_hash(std::string_view s) noexcept {
  constexpr std::uint64_t k = 0x9E3779B97F4A7C15ULL;
  std::uint64_t h = s.size() * k;
  const char* p = s.data();
  std::size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * k;
    h ^= h >> 32;
  }
  if (n > 0) {
    std::uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * k;
  }
  return static_cast<std::uint32_t>(mix64(h));
}

// Trie nodes are allocated at (at least) this alignment, which leaves room for a tag in the low
// bits of a pointer to one. make_node asks operator new for a multiple of it, which it must then
// align to it; a larger alignment would round a short node up to the next malloc size class.
inline constexpr std::size_t node_alignment = 8;

// The literal children of a trie node, keyed by level name. Shaped for real topic trees: most
// nodes have zero or one child (a device's own branch: dev42 -> user -> get), a few have
// thousands (every device of a product). So: one inline pointer, then a short array scanned
// linearly, then an open-addressing table (linear probing, backward-shift deletion, load <= 3/4).
// Each array or table slot is the child's pointer with 3 bits of its hash in the low bits that
// node alignment leaves zero: a probe dereferences a child only when those agree (1 in 8 for a
// stranger), so a lookup in a million-device table costs about one cache miss for the slot and
// one for the node found, at 8 bytes a slot. The key is the child's own inline name.
// 16 bytes per node. Node provides name() and hash(). The table does not own its children.
template <class Node> class child_table {
public:
  child_table() noexcept : one_(nullptr) {}
  ~child_table() { release(); }
  child_table(const child_table&) = delete;
  child_table& operator=(const child_table&) = delete;

  std::size_t size() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }

  Node* find(std::string_view name, std::uint32_t h) const noexcept {
    if (cap_ == 0)
      return one_ != nullptr && is(one_, name, h) ? one_ : nullptr;
    const slot t = tag(h);
    if (cap_ <= linear_max) {
      for (std::uint32_t i = 0; i < count_; ++i)
        if ((slots_[i] & tag_mask) == t && is(node(slots_[i]), name, h))
          return node(slots_[i]);
      return nullptr;
    }
    const std::uint32_t mask = cap_ - 1;
    for (std::uint32_t i = h & mask;; i = (i + 1) & mask) {
      const slot s = slots_[i];
      if (s == 0)
        return nullptr;
      if ((s & tag_mask) == t && is(node(s), name, h))
        return node(s);
    }
  }

  // `n` must not be present. Strong guarantee: on bad_alloc the table is unchanged.
  void insert(Node* n) {
    if (cap_ == 0) {
      if (one_ == nullptr) {
        one_ = n;
        count_ = 1;
        return;
      }
      rebuild(2);
    } else if (cap_ <= linear_max) {
      if (count_ == cap_)
        rebuild(cap_ < linear_max ? cap_ * 2 : linear_max * 2);
    } else if ((std::uint64_t{count_} + 1) * 4 > std::uint64_t{cap_} * 3) {
      rebuild(cap_ * 2);
    }
    if (cap_ <= linear_max)
      slots_[count_] = pack(n);
    else
      place(n);
    ++count_;
  }

  // `n` must be present. Shrinks opportunistically (never throws: a failed shrink is skipped).
  void erase(Node* n) noexcept {
    if (cap_ == 0) {
      one_ = nullptr;
      count_ = 0;
      return;
    }
    const slot packed = pack(n);
    if (cap_ <= linear_max) {
      std::uint32_t i = 0;
      while (slots_[i] != packed)
        ++i;
      slots_[i] = slots_[--count_];
      if (count_ <= 1) {
        Node* const last = count_ == 1 ? node(slots_[0]) : nullptr;
        ::operator delete(slots_);
        one_ = last;
        cap_ = 0;
      }
      return;
    }
    const std::uint32_t mask = cap_ - 1;
    std::uint32_t i = n->hash() & mask;
    while (slots_[i] != packed)
      i = (i + 1) & mask;
    // Backward-shift: pull later entries of the probe run into the hole so finds need no
    // tombstones.
    for (std::uint32_t j = (i + 1) & mask; slots_[j] != 0; j = (j + 1) & mask) {
      const std::uint32_t home = node(slots_[j])->hash() & mask;
      const bool stays = i < j ? (home > i && home <= j) : (home > i || home <= j);
      if (!stays) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i] = 0;
    --count_;
    if (count_ <= linear_max / 2)
      try_rebuild(linear_max);
    else if (std::uint64_t{count_} * 8 < cap_)
      try_rebuild(cap_ / 2);
  }

  template <class F> void for_each(F&& f) const {
    if (cap_ == 0) {
      if (one_ != nullptr)
        f(one_);
      return;
    }
    const std::uint32_t n = cap_ <= linear_max ? count_ : cap_;
    for (std::uint32_t i = 0; i < n; ++i)
      if (slots_[i] != 0)
        f(node(slots_[i]));
  }

private:
  static constexpr std::uint32_t linear_max = 8;

  // A child pointer with hash bits in its low bits; 0 is an empty slot.
  using slot = std::uintptr_t;
  static constexpr slot tag_mask = node_alignment - 1;

  static slot tag(std::uint32_t h) noexcept { return h >> 29; } // bits the index rarely uses
  static slot pack(Node* n) noexcept {
    assert((reinterpret_cast<slot>(n) & tag_mask) == 0);
    return reinterpret_cast<slot>(n) | (tag(n->hash()) & tag_mask);
  }
  static Node* node(slot s) noexcept { return reinterpret_cast<Node*>(s & ~tag_mask); }

  static bool is(const Node* n, std::string_view name, std::uint32_t h) noexcept {
    return n->hash() == h && n->name() == name;
  }

  void place(Node* n) noexcept {
    const std::uint32_t mask = cap_ - 1;
    std::uint32_t i = n->hash() & mask;
    while (slots_[i] != 0)
      i = (i + 1) & mask;
    slots_[i] = pack(n);
  }

  // Moves every child into a fresh array of `cap` slots (linear when cap <= linear_max).
  bool rebuild(std::uint32_t cap, bool nothrow = false) {
    const std::size_t bytes = std::size_t{cap} * sizeof(slot);
    void* mem = nothrow ? ::operator new(bytes, std::nothrow) : ::operator new(bytes);
    if (mem == nullptr)
      return false;
    std::memset(mem, 0, bytes);
    slot* const old = cap_ == 0 ? nullptr : slots_;
    const std::uint32_t old_cap = cap_;
    Node* const old_one = cap_ == 0 ? one_ : nullptr;
    slots_ = static_cast<slot*>(mem);
    cap_ = cap;
    std::uint32_t k = 0;
    auto put = [&](Node* n) {
      if (cap_ <= linear_max)
        slots_[k++] = pack(n);
      else
        place(n);
    };
    if (old_one != nullptr)
      put(old_one);
    const std::uint32_t scan = old_cap <= linear_max ? count_ : old_cap;
    for (std::uint32_t i = 0; old != nullptr && i < scan; ++i)
      if (old[i] != 0)
        put(node(old[i]));
    ::operator delete(old);
    return true;
  }

  void try_rebuild(std::uint32_t cap) noexcept { rebuild(cap, true); }

  void release() noexcept {
    if (cap_ != 0)
      ::operator delete(slots_);
    one_ = nullptr;
    cap_ = 0;
    count_ = 0;
  }

  union {
    Node* one_;   // cap_ == 0
    slot* slots_; // cap_ > 0: linear array (cap_ <= linear_max) or hash table
  };
  std::uint32_t count_ = 0;
  std::uint32_t cap_ = 0;
};

// Base of a trie node whose level name lives in the same allocation, right after the node:
// one allocation per level, no std::string. Create with make_node, destroy with free_node.
template <class Node> class trie_node {
public:
  child_table<Node> children;

  std::string_view name() const noexcept {
    return {reinterpret_cast<const char*>(static_cast<const Node*>(this) + 1), len_};
  }
  std::uint32_t hash() const noexcept { return hash_; }

protected:
  trie_node(std::uint32_t len, std::uint32_t h) noexcept : hash_(h), len_(len) {}
  ~trie_node() = default;

private:
  std::uint32_t hash_;
  std::uint32_t len_;
};

template <class Node> Node* make_node(std::string_view name, std::uint32_t h) {
  static_assert(alignof(Node) <= node_alignment);
  const std::size_t bytes =
      (sizeof(Node) + name.size() + node_alignment - 1) & ~(node_alignment - 1);
  void* mem = ::operator new(bytes);
  Node* n = ::new (mem) Node(static_cast<std::uint32_t>(name.size()), h);
  if (!name.empty())
    std::memcpy(reinterpret_cast<char*>(n + 1), name.data(), name.size());
  return n;
}

template <class Node> void free_node(Node* n) noexcept {
  n->~Node();
  ::operator delete(static_cast<void*>(n));
}

} // namespace thingport::broker::detail
