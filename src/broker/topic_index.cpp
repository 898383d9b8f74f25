// The subscription index: a trie with one node per filter level. Literal children sit in a
// child_table; '+' and '#' children hang off a separately allocated `wildcards` pair, since few
// nodes have them and every byte of a node is paid a million times. A node's subscribers are a
// sub_list (inline when there is one, an array with an id index when there are many).
//
// Locking: one reader-writer lock (rw_lock.hpp). match() holds it shared (workers do not block
// each other), subscribe/unsubscribe exclusive; a waiting writer goes ahead of new readers, so
// SUBSCRIBE does not starve while every worker routes. Under the shared lock nothing is allocated
// but `out`'s growth, once a thread's scratch vectors have warmed up. Replacing the lock
// (RCU-style copy of changed paths, per-worker result caches as in NATS' sublist) changes
// nothing outside this file.
#include "broker/topic_index.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <shared_mutex>

#include "broker/rw_lock.hpp"
#include "broker/sub_list.hpp"
#include "broker/topic_tree.hpp"

namespace thingport::broker {
namespace {

using detail::level_hash;
using detail::level_splitter;
using detail::sub_list;

struct index_node;

struct wildcards {
  index_node* plus = nullptr;
  index_node* hash = nullptr;
};

struct index_node : detail::trie_node<index_node> {
  index_node(std::uint32_t len, std::uint32_t h) noexcept : trie_node(len, h) {}

  sub_list subs;
  wildcards* wild = nullptr; // null when neither '+' nor '#' child exists

  bool empty() const noexcept { return subs.empty() && children.empty() && wild == nullptr; }
};

// One node costs sizeof + its name + the allocator's header: 64 bytes for names up to 8 bytes.
static_assert(sizeof(void*) != 8 || sizeof(index_node) == 48);

struct node_deleter {
  void operator()(index_node* n) const noexcept { detail::free_node(n); }
};
using node_ptr = std::unique_ptr<index_node, node_deleter>;

bool is_plus(std::string_view level) noexcept {
  return level.size() == 1 && level[0] == '+';
}
bool is_hash(std::string_view level) noexcept {
  return level.size() == 1 && level[0] == '#';
}

// Per-thread scratch for match(): reused so that a warmed-up worker allocates nothing but `out`.
struct match_scratch {
  std::vector<const index_node*> frontier;
  std::vector<const index_node*> next;
  std::vector<std::uint32_t> table;
};

match_scratch& scratch() {
  thread_local match_scratch s;
  return s;
}

// Leaves each id of out[start..] once, at its highest QoS. Small sets compare pairwise; larger
// ones go through an open-addressing set of positions. Order is not kept.
void dedup(std::vector<subscriber_match>& out, std::size_t start,
           std::vector<std::uint32_t>& table) {
  subscriber_match* const base = out.data() + start;
  const std::size_t n = out.size() - start;
  std::size_t kept = 0;
  if (n <= 16) {
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t j = 0;
      while (j < kept && base[j].id != base[i].id)
        ++j;
      if (j < kept)
        base[j].qos = std::max(base[j].qos, base[i].qos);
      else
        base[kept++] = base[i];
    }
  } else {
    std::size_t cap = 64;
    while (cap < n * 2)
      cap *= 2;
    constexpr std::uint32_t empty = std::numeric_limits<std::uint32_t>::max();
    table.assign(cap, empty);
    const std::size_t mask = cap - 1;
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t s = detail::mix64(base[i].id) & mask;
      while (table[s] != empty && base[table[s]].id != base[i].id)
        s = (s + 1) & mask;
      if (table[s] != empty) {
        base[table[s]].qos = std::max(base[table[s]].qos, base[i].qos);
      } else {
        table[s] = static_cast<std::uint32_t>(kept);
        base[kept++] = base[i];
      }
    }
    if (table.capacity() > (std::size_t{1} << 20))
      std::vector<std::uint32_t>().swap(table);
  }
  out.resize(start + kept);
}

} // namespace

struct topic_index::impl {
  mutable detail::rw_lock mu;
  index_node* root = detail::make_node<index_node>({}, 0);
  std::atomic<std::size_t> subscriptions{0};
  std::atomic<std::size_t> nodes{0}; // besides the root

  impl() = default;
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;

  ~impl() {
    // Iterative: a filter may have thousands of levels, too deep to recurse.
    std::vector<index_node*> stack{root};
    while (!stack.empty()) {
      index_node* n = stack.back();
      stack.pop_back();
      n->children.for_each([&](index_node* c) { stack.push_back(c); });
      if (n->wild != nullptr) {
        for (index_node* c : {n->wild->plus, n->wild->hash})
          if (c != nullptr)
            stack.push_back(c);
        delete n->wild;
      }
      detail::free_node(n);
    }
  }

  static index_node* child(const index_node* n, std::string_view level) noexcept {
    if (is_plus(level))
      return n->wild != nullptr ? n->wild->plus : nullptr;
    if (is_hash(level))
      return n->wild != nullptr ? n->wild->hash : nullptr;
    return n->children.find(level, level_hash(level));
  }

  index_node* child_or_create(index_node* n, std::string_view level) {
    const bool plus = is_plus(level);
    if (plus || is_hash(level)) {
      if (index_node* c = child(n, level))
        return c;
      node_ptr c(detail::make_node<index_node>(level, 0));
      if (n->wild == nullptr)
        n->wild = new wildcards{};
      (plus ? n->wild->plus : n->wild->hash) = c.get();
      nodes.fetch_add(1, std::memory_order_relaxed);
      return c.release();
    }
    const std::uint32_t h = level_hash(level);
    if (index_node* c = n->children.find(level, h))
      return c;
    node_ptr c(detail::make_node<index_node>(level, h));
    n->children.insert(c.get());
    nodes.fetch_add(1, std::memory_order_relaxed);
    return c.release();
  }

  // Frees the empty tail of `path` (root first, each node the parent of the next).
  void prune(const std::vector<index_node*>& path) noexcept {
    for (std::size_t i = path.size() - 1; i > 0 && path[i]->empty(); --i) {
      index_node* const n = path[i];
      index_node* const parent = path[i - 1];
      wildcards* const w = parent->wild;
      if (w != nullptr && (w->plus == n || w->hash == n)) {
        (w->plus == n ? w->plus : w->hash) = nullptr;
        if (w->plus == nullptr && w->hash == nullptr) {
          delete w;
          parent->wild = nullptr;
        }
      } else {
        parent->children.erase(n);
      }
      detail::free_node(n);
      nodes.fetch_sub(1, std::memory_order_relaxed);
    }
  }
};

topic_index::topic_index() : impl_(std::make_unique<impl>()) {}
topic_index::~topic_index() = default;

bool topic_index::subscribe(std::string_view filter, subscriber_id id, std::uint8_t qos) {
  std::vector<index_node*> path;
  path.reserve(detail::level_count(filter) + 1);
  std::unique_lock lock(impl_->mu);
  index_node* n = impl_->root;
  path.push_back(n);
  try {
    level_splitter levels(filter);
    std::string_view level;
    while (levels.next(level)) {
      n = impl_->child_or_create(n, level);
      path.push_back(n);
    }
    const bool added = n->subs.upsert(id, qos);
    if (added)
      impl_->subscriptions.fetch_add(1, std::memory_order_relaxed);
    return added;
  } catch (...) {
    impl_->prune(path); // nodes created for a subscription that did not happen
    throw;
  }
}

bool topic_index::unsubscribe(std::string_view filter, subscriber_id id) {
  std::vector<index_node*> path;
  path.reserve(detail::level_count(filter) + 1);
  std::unique_lock lock(impl_->mu);
  index_node* n = impl_->root;
  path.push_back(n);
  level_splitter levels(filter);
  std::string_view level;
  while (levels.next(level)) {
    n = impl::child(n, level);
    if (n == nullptr)
      return false;
    path.push_back(n);
  }
  if (!n->subs.erase(id))
    return false;
  impl_->subscriptions.fetch_sub(1, std::memory_order_relaxed);
  impl_->prune(path);
  return true;
}

// Breadth-first over the topic's levels: `frontier` holds the nodes whose filter prefix matches
// the levels read so far (a node appears at most once: its path spells one filter prefix).
void topic_index::match(std::string_view topic, std::vector<subscriber_match>& out) const {
  match_scratch& s = scratch();
  const std::size_t start = out.size();
  int lists = 0; // non-empty subscriber lists appended; dedup is needed only past one
  auto collect = [&](const index_node* n) {
    if (!n->subs.empty()) {
      n->subs.append_to(out);
      ++lists;
    }
  };
  // [MQTT-4.7.2-1]: '$' topics are not matched by a wildcard in the first level.
  bool wild_ok = topic.empty() || topic[0] != '$';

  std::shared_lock lock(impl_->mu);
  s.frontier.clear();
  s.frontier.push_back(impl_->root);
  level_splitter levels(topic);
  std::string_view level;
  while (levels.next(level)) {
    const std::uint32_t h = level_hash(level);
    s.next.clear();
    for (const index_node* n : s.frontier) {
      if (n->wild != nullptr && wild_ok) {
        if (n->wild->hash != nullptr)
          collect(n->wild->hash);
        if (n->wild->plus != nullptr)
          s.next.push_back(n->wild->plus);
      }
      if (const index_node* c = n->children.find(level, h))
        s.next.push_back(c);
    }
    s.frontier.swap(s.next);
    if (s.frontier.empty())
      break;
    wild_ok = true;
    if (levels.at_end()) {
      for (const index_node* n : s.frontier) {
        collect(n);
        if (n->wild != nullptr && n->wild->hash != nullptr)
          collect(n->wild->hash); // "a/#" also matches "a"
      }
    }
  }
  lock.unlock();
  if (lists > 1)
    dedup(out, start, s.table);
}

std::size_t topic_index::size() const noexcept {
  return impl_->subscriptions.load(std::memory_order_relaxed);
}

std::size_t topic_index::node_count() const noexcept {
  return impl_->nodes.load(std::memory_order_relaxed);
}

} // namespace thingport::broker
