// A bound on log lines that clients can cause (refused logins, denied publishes, bad packets):
// at most `per_second` lines a second per limiter; the lines over it are counted, and the next
// line let through says how many were left out. Any thread (relaxed atomics).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace thingport::broker {

// Every suppressed line of every limiter, for /metrics.
inline std::atomic<std::uint64_t> log_lines_suppressed_total{0};

class log_limiter {
public:
  explicit log_limiter(unsigned per_second) noexcept : per_second_(per_second) {}

  // nullopt: leave this line out. Otherwise log it, with the number of lines left out since the
  // last one logged (suppressed_note()).
  std::optional<std::uint64_t> admit() noexcept {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::steady_clock::now().time_since_epoch())
                         .count();
    auto w = window_.load(std::memory_order_relaxed);
    if (w != now && window_.compare_exchange_strong(w, now, std::memory_order_relaxed))
      in_window_.store(0, std::memory_order_relaxed);
    if (in_window_.fetch_add(1, std::memory_order_relaxed) >= per_second_) {
      suppressed_.fetch_add(1, std::memory_order_relaxed);
      log_lines_suppressed_total.fetch_add(1, std::memory_order_relaxed);
      return std::nullopt;
    }
    return suppressed_.exchange(0, std::memory_order_relaxed);
  }

private:
  unsigned per_second_;
  std::atomic<std::int64_t> window_{0};
  std::atomic<unsigned> in_window_{0};
  std::atomic<std::uint64_t> suppressed_{0};
};

// "" or " (N similar lines suppressed)".
inline std::string suppressed_note(std::uint64_t n) {
  return n == 0 ? std::string() : " (" + std::to_string(n) + " similar lines suppressed)";
}

} // namespace thingport::broker
