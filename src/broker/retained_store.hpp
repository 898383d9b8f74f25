// Retained messages by topic. Thread-safe; set() on every retained PUBLISH, match() on SUBSCRIBE.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "broker/message.hpp"

namespace thingport::broker {

struct retained_limits {
  std::size_t max_messages = 0; // 0: no limit
  std::size_t max_bytes = 0;    // topic + payload bytes of all of them; 0: no limit
};

class retained_store {
public:
  explicit retained_store(retained_limits limits = {});
  ~retained_store();
  retained_store(const retained_store&) = delete;
  retained_store& operator=(const retained_store&) = delete;

  // Stores `msg` as the retained message of its topic; an empty payload removes it. False (and
  // nothing changed) when storing it would pass a limit; counted in refused().
  bool set(message_ptr msg);

  // Appends every retained message whose topic matches `filter` (a valid filter; '$' rule as
  // in topic_index).
  void match(std::string_view filter, std::vector<message_ptr>& out) const;

  std::size_t size() const noexcept;
  std::size_t bytes() const noexcept; // topic + payload bytes held
  std::uint64_t refused() const noexcept;

  // Number of trie nodes besides the root: a memory gauge (0 once every message is removed).
  std::size_t node_count() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace thingport::broker
