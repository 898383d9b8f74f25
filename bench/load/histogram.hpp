// A log-linear latency histogram: values in nanoseconds, 32 sub-buckets per power of two, so a
// reported percentile is within ~3% of the true value. Fixed size, no allocation per sample;
// per-thread instances are merged at the end.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace thingport::load {

class histogram {
  static constexpr unsigned sub_bits = 5;
  static constexpr std::uint64_t sub = 1u << sub_bits;
  static constexpr std::size_t slots = (64 - sub_bits + 1) * sub;

public:
  void record(std::uint64_t v) noexcept {
    ++counts_[index(v)];
    ++total_;
    if (v > max_)
      max_ = v;
  }

  void merge(const histogram& o) noexcept {
    for (std::size_t i = 0; i < slots; ++i)
      counts_[i] += o.counts_[i];
    total_ += o.total_;
    if (o.max_ > max_)
      max_ = o.max_;
  }

  std::uint64_t count() const noexcept { return total_; }
  std::uint64_t max() const noexcept { return max_; }

  // The value at quantile q (0..1): the upper edge of the bucket holding it, capped at max().
  std::uint64_t quantile(double q) const noexcept {
    if (total_ == 0)
      return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_));
    if (rank >= total_)
      rank = total_ - 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < slots; ++i) {
      seen += counts_[i];
      if (seen > rank) {
        const std::uint64_t edge = upper(i);
        return edge < max_ ? edge : max_;
      }
    }
    return max_;
  }

private:
  static std::size_t index(std::uint64_t v) noexcept {
    if (v < sub)
      return static_cast<std::size_t>(v);
    const unsigned magnitude = 63u - static_cast<unsigned>(std::countl_zero(v)); // >= sub_bits
    const unsigned shift = magnitude - sub_bits + 1;
    const auto mantissa = static_cast<std::size_t>(v >> shift); // sub/2 .. sub-1 ... < sub
    return static_cast<std::size_t>(shift) * sub + mantissa;
  }

  static std::uint64_t upper(std::size_t i) noexcept {
    const std::size_t shift = i / sub;
    const std::uint64_t mantissa = i % sub;
    if (shift == 0)
      return mantissa;
    return ((mantissa + 1) << shift) - 1;
  }

  std::array<std::uint64_t, slots> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

} // namespace thingport::load
