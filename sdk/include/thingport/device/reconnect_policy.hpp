// When to try connecting again: exponential backoff with jitter, under a hard ceiling on attempts
// per minute (the platform refuses a device's 6th connect within a minute with CONNACK 5, so the
// SDK never makes one). Pure: time and randomness come in as arguments, so it is tested without
// clocks. Owned by one client; not thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>

namespace thingport::device {

class reconnect_policy {
public:
  using clock = std::chrono::steady_clock;
  using duration = std::chrono::milliseconds;

  // initial: the first retry delay; max: the cap of the exponential growth; per_minute: at most
  // this many attempts in any 60 s window (0: no ceiling).
  reconnect_policy(duration initial, duration max, unsigned per_minute);

  // An attempt starts now.
  void on_attempt(clock::time_point now);
  // The last attempt ended in a failure (refused, timed out, dropped): the next delay doubles.
  void on_failure() noexcept;
  // A connection was accepted: the exponent starts over.
  void on_success() noexcept { failures_ = 0; }

  // Delay from `now` until the next attempt may start. `jitter` in [0,1): the delay is
  // base/2 + base/2*jitter where base = min(max, initial * 2^(failures-1)), but never earlier than
  // the per-minute ceiling allows.
  duration next_delay(clock::time_point now, double jitter) const;

  unsigned failures() const noexcept { return failures_; }

private:
  duration initial_;
  duration max_;
  unsigned per_minute_;
  unsigned failures_ = 0;
  std::deque<clock::time_point> recent_; // start times of the last `per_minute_` attempts
};

} // namespace thingport::device
