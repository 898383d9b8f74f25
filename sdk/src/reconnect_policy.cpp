#include "thingport/device/reconnect_policy.hpp"

#include <algorithm>

namespace thingport::device {

reconnect_policy::reconnect_policy(duration initial, duration max, unsigned per_minute)
    : initial_(std::max(initial, duration(1))), max_(std::max(max, initial_)),
      per_minute_(per_minute) {}

void reconnect_policy::on_attempt(clock::time_point now) {
  if (per_minute_ == 0)
    return;
  recent_.push_back(now);
  while (recent_.size() > per_minute_)
    recent_.pop_front();
}

void reconnect_policy::on_failure() noexcept {
  if (failures_ < 64)
    ++failures_;
}

reconnect_policy::duration reconnect_policy::next_delay(clock::time_point now,
                                                        double jitter) const {
  duration base = initial_;
  for (unsigned i = 1; i < failures_ && base < max_; ++i)
    base *= 2;
  base = std::min(base, max_);
  jitter = std::clamp(jitter, 0.0, 1.0);
  auto delay =
      base / 2 +
      duration(static_cast<duration::rep>(static_cast<double>((base / 2).count()) * jitter));
  if (per_minute_ != 0 && recent_.size() >= per_minute_) {
    // The attempt `per_minute_` back must be a full minute old before the next may start.
    const auto earliest = recent_.front() + std::chrono::minutes(1);
    if (earliest > now) {
      delay = std::max(delay, std::chrono::ceil<duration>(earliest - now));
    }
  }
  return delay;
}

} // namespace thingport::device
