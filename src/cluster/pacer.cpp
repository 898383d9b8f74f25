#include "cluster/pacer.hpp"

#include <algorithm>

namespace thingport::cluster {

pacer::pacer(unsigned per_second)
    : interval_(std::chrono::duration_cast<clock::duration>(std::chrono::seconds(1)) /
                std::max(per_second, 1u)),
      max_batch_(std::max<std::uint64_t>(1, per_second / 100)) {}

std::uint64_t pacer::take(clock::time_point now) {
  if (!started_) {
    started_ = true;
    next_ = now + interval_;
    return 1;
  }
  if (now < next_)
    return 0;
  const auto due = 1 + static_cast<std::uint64_t>((now - next_) / interval_);
  const auto n = std::min(due, max_batch_);
  next_ += interval_ * static_cast<clock::rep>(n);
  if (next_ <= now) // fell behind by more than a batch: the arrears are dropped
    next_ = now + interval_;
  return n;
}

} // namespace thingport::cluster
