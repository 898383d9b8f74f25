// "At most 5 connect attempts per device per minute" (docs/protocol.md "Logging in"). Needs time
// and state, so it is a small object fed with `now` (no clock reads inside): tests drive it with
// fake times.
//
// Sliding-window estimate over two fixed windows (the count of the previous window weighted by
// how much of it still overlaps the sliding minute, plus the current count). Memory is bounded:
// at most max_keys keys per window, two windows kept. When the current window already tracks
// max_keys keys, a new key is allowed without being tracked (fail open: a fleet reconnecting
// after an outage must not be locked out by a full table).
//
// Thread-safe: allow() may be called from every worker concurrently (one mutex; it runs once
// per CONNECT, not per message).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace thingport::auth {

class connect_rate_limiter {
public:
  using clock = std::chrono::steady_clock;

  struct options {
    std::uint32_t max_attempts = 5;
    clock::duration window = std::chrono::minutes(1);
    std::size_t max_keys = 1'000'000;
  };

  connect_rate_limiter() : connect_rate_limiter(options{}) {}
  explicit connect_rate_limiter(options opts);

  // Counts one attempt for `key` at `now` and returns true, or returns false (not counted) when
  // the key already has max_attempts in the sliding window ending at `now`. `now` should not go
  // backwards; if it does, it is treated as the latest time seen.
  bool allow(std::string_view key, clock::time_point now);
  // The two halves of allow(), for limits that count only some outcomes (failed logins): is
  // `key` at max_attempts now (nothing counted), and count one for it.
  bool blocked(std::string_view key, clock::time_point now);
  void record(std::string_view key, clock::time_point now);

  // Keys tracked in the current and previous windows.
  std::size_t size() const;

private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  using counts = std::unordered_map<std::string, std::uint32_t, string_hash, std::equal_to<>>;

  void advance(clock::time_point now);
  bool over(std::string_view key, clock::time_point now); // with mutex_ held
  void count(std::string_view key);                       // with mutex_ held, after advance()

  options opts_;
  mutable std::mutex mutex_;
  bool started_ = false;
  clock::time_point window_start_{};
  counts current_;
  counts previous_;
};

} // namespace thingport::auth
