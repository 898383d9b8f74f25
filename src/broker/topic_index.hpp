// The subscription index: topic filters ('+', '#') -> subscribers, shared by all workers.
// Read-mostly: match() runs on every PUBLISH from any worker thread concurrently; subscribe and
// unsubscribe are rarer. Thread-safe: every member may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace thingport::broker {

using subscriber_id = std::uint64_t;

struct subscriber_match {
  subscriber_id id = 0;
  std::uint8_t qos = 0;
};

class topic_index {
public:
  topic_index();
  ~topic_index();
  topic_index(const topic_index&) = delete;
  topic_index& operator=(const topic_index&) = delete;

  // Adds (or, if present, replaces the QoS of) `id`'s subscription to `filter` (a valid filter).
  // Returns true when the subscription is new.
  bool subscribe(std::string_view filter, subscriber_id id, std::uint8_t qos);

  // Removes `id`'s subscription to `filter`. Returns true when it existed.
  bool unsubscribe(std::string_view filter, subscriber_id id);

  // Appends to `out` every subscriber with a filter matching `topic` (a valid topic name), each
  // subscriber once, at the highest QoS among its matching filters. Topics starting with '$' are
  // not matched by filters starting with '+' or '#'. `out` is not cleared first.
  void match(std::string_view topic, std::vector<subscriber_match>& out) const;

  // Number of (filter, subscriber) pairs.
  std::size_t size() const noexcept;

  // Number of trie nodes besides the root: a memory gauge (0 once every filter is gone, since
  // unsubscribe frees the nodes it leaves empty).
  std::size_t node_count() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace thingport::broker
