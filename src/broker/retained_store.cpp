// Retained messages in a trie keyed by topic level (the same child_table and inline-name nodes as
// the subscription index). match() walks the tree along the filter: a literal level follows one
// child, '+' every child, '#' the whole subtree. Guarded by a std::shared_mutex: match() (on
// SUBSCRIBE) shared, set() (on retained PUBLISH) exclusive.
#include "broker/retained_store.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>

#include "broker/topic_tree.hpp"

namespace thingport::broker {
namespace {

using detail::level_hash;
using detail::level_splitter;

struct retained_node : detail::trie_node<retained_node> {
  retained_node(std::uint32_t len, std::uint32_t h) noexcept : trie_node(len, h) {}

  message_ptr msg; // the retained message of the topic this node spells, if any

  bool empty() const noexcept { return msg == nullptr && children.empty(); }
};

struct node_deleter {
  void operator()(retained_node* n) const noexcept { detail::free_node(n); }
};
using node_ptr = std::unique_ptr<retained_node, node_deleter>;

bool is_dollar(const retained_node* n) noexcept {
  return !n->name().empty() && n->name()[0] == '$';
}

} // namespace

struct retained_store::impl {
  mutable std::shared_mutex mu;
  retained_node* root = detail::make_node<retained_node>({}, 0);
  std::atomic<std::size_t> messages{0};
  std::atomic<std::size_t> nodes{0}; // besides the root
  std::atomic<std::size_t> bytes{0};
  std::atomic<std::uint64_t> refused{0};
  retained_limits limits;

  impl() = default;
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;

  ~impl() {
    // Iterative: a topic may have thousands of levels, too deep to recurse.
    std::vector<retained_node*> stack{root};
    while (!stack.empty()) {
      retained_node* n = stack.back();
      stack.pop_back();
      n->children.for_each([&](retained_node* c) { stack.push_back(c); });
      detail::free_node(n);
    }
  }

  retained_node* child_or_create(retained_node* n, std::string_view level) {
    const std::uint32_t h = level_hash(level);
    if (retained_node* c = n->children.find(level, h))
      return c;
    node_ptr c(detail::make_node<retained_node>(level, h));
    n->children.insert(c.get());
    nodes.fetch_add(1, std::memory_order_relaxed);
    return c.release();
  }

  // Frees the empty tail of `path` (root first, each node the parent of the next).
  void prune(const std::vector<retained_node*>& path) noexcept {
    for (std::size_t i = path.size() - 1; i > 0 && path[i]->empty(); --i) {
      path[i - 1]->children.erase(path[i]);
      detail::free_node(path[i]);
      nodes.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  // Appends the messages of `n` and of every node below it; `skip_dollar` leaves out children
  // of `n` whose level starts with '$' (used when `n` is the root).
  static void collect_subtree(const retained_node* n, bool skip_dollar,
                              std::vector<message_ptr>& out) {
    std::vector<const retained_node*> stack{n};
    while (!stack.empty()) {
      const retained_node* m = stack.back();
      stack.pop_back();
      if (m->msg != nullptr)
        out.push_back(m->msg);
      m->children.for_each([&](const retained_node* c) {
        if (!(skip_dollar && m == n && is_dollar(c)))
          stack.push_back(c);
      });
    }
  }
};

retained_store::retained_store(retained_limits limits) : impl_(std::make_unique<impl>()) {
  impl_->limits = limits;
}

namespace {
std::size_t cost(const message& m) noexcept {
  return m.topic.size() + m.payload.size();
}
} // namespace
retained_store::~retained_store() = default;

bool retained_store::set(message_ptr msg) {
  if (msg == nullptr)
    return true;
  const std::string_view topic = msg->topic;
  std::vector<retained_node*> path;
  path.reserve(detail::level_count(topic) + 1);
  std::unique_lock lock(impl_->mu);
  retained_node* n = impl_->root;
  path.push_back(n);
  level_splitter levels(topic);
  std::string_view level;
  if (msg->payload.empty()) {
    while (levels.next(level)) {
      n = n->children.find(level, level_hash(level));
      if (n == nullptr)
        return true;
      path.push_back(n);
    }
    if (n->msg != nullptr) {
      impl_->bytes.fetch_sub(cost(*n->msg), std::memory_order_relaxed);
      n->msg.reset();
      impl_->messages.fetch_sub(1, std::memory_order_relaxed);
      impl_->prune(path);
    }
    return true;
  }
  // The limits, checked before anything is created: a replacement frees what it replaces, but
  // is checked as if it did not (simple, and never over the bound).
  const auto& lim = impl_->limits;
  if ((lim.max_messages != 0 &&
       impl_->messages.load(std::memory_order_relaxed) >= lim.max_messages) ||
      (lim.max_bytes != 0 &&
       impl_->bytes.load(std::memory_order_relaxed) + cost(*msg) > lim.max_bytes)) {
    // A replacement of an existing topic within the byte budget is still fine.
    retained_node* e = impl_->root;
    level_splitter probe(topic);
    while (e != nullptr && probe.next(level))
      e = e->children.find(level, level_hash(level));
    const bool replaces = e != nullptr && e->msg != nullptr;
    const std::size_t after =
        impl_->bytes.load(std::memory_order_relaxed) + cost(*msg) - (replaces ? cost(*e->msg) : 0);
    if (!replaces || (lim.max_bytes != 0 && after > lim.max_bytes)) {
      impl_->refused.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  }
  try {
    while (levels.next(level)) {
      n = impl_->child_or_create(n, level);
      path.push_back(n);
    }
  } catch (...) {
    impl_->prune(path);
    throw;
  }
  if (n->msg == nullptr)
    impl_->messages.fetch_add(1, std::memory_order_relaxed);
  else
    impl_->bytes.fetch_sub(cost(*n->msg), std::memory_order_relaxed);
  impl_->bytes.fetch_add(cost(*msg), std::memory_order_relaxed);
  n->msg = std::move(msg);
  return true;
}

std::size_t retained_store::bytes() const noexcept {
  return impl_->bytes.load(std::memory_order_relaxed);
}

std::uint64_t retained_store::refused() const noexcept {
  return impl_->refused.load(std::memory_order_relaxed);
}

void retained_store::match(std::string_view filter, std::vector<message_ptr>& out) const {
  std::vector<const retained_node*> frontier;
  std::vector<const retained_node*> next;
  std::shared_lock lock(impl_->mu);
  frontier.push_back(impl_->root);
  // [MQTT-4.7.2-1]: a wildcard first level does not match topics starting with '$'.
  bool first = true;
  level_splitter levels(filter);
  std::string_view level;
  while (levels.next(level)) {
    if (level == "#") {
      for (const retained_node* n : frontier)
        impl::collect_subtree(n, first, out); // includes n itself: "a/#" matches "a"
      return;
    }
    next.clear();
    if (level == "+") {
      for (const retained_node* n : frontier)
        n->children.for_each([&](const retained_node* c) {
          if (!(first && is_dollar(c)))
            next.push_back(c);
        });
    } else {
      const std::uint32_t h = level_hash(level);
      for (const retained_node* n : frontier)
        if (const retained_node* c = n->children.find(level, h))
          next.push_back(c);
    }
    frontier.swap(next);
    if (frontier.empty())
      return;
    first = false;
  }
  for (const retained_node* n : frontier)
    if (n->msg != nullptr)
      out.push_back(n->msg);
}

std::size_t retained_store::size() const noexcept {
  return impl_->messages.load(std::memory_order_relaxed);
}

std::size_t retained_store::node_count() const noexcept {
  return impl_->nodes.load(std::memory_order_relaxed);
}

} // namespace thingport::broker
