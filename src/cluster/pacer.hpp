// Paces the closes of `thingport node drain` (docs/cluster.md "Rolling upgrade"): with rate r,
// the k-th close (from 0) is due at start + k/r, `start` being the first take(): no burst at
// the start (the bucket starts empty). A caller that wakes late gets what fell due meanwhile,
// at most a hundredth of a second's worth (at least one); older arrears are dropped, so a
// stalled thread never closes a second's worth at once. One thread's own: not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>

namespace thingport::cluster {

class pacer {
public:
  using clock = std::chrono::steady_clock;

  explicit pacer(unsigned per_second); // at least 1

  // How many may happen now (0 before the next one is due); the first call returns 1.
  std::uint64_t take(clock::time_point now);
  // When the next one is due (meaningful after the first take()).
  clock::time_point next() const noexcept { return next_; }
  bool started() const noexcept { return started_; }

private:
  clock::duration interval_;
  std::uint64_t max_batch_; // per take(): 10 ms worth, at least 1
  clock::time_point next_{};
  bool started_ = false;
};

} // namespace thingport::cluster
