// The drain pacer: the first at once, then one every 1/r from it (no burst at the start), a late
// caller gets at most 10 ms worth, and older arrears are dropped.
#include "cluster/pacer.hpp"

#include <gtest/gtest.h>

namespace thingport::cluster {
namespace {

using namespace std::chrono_literals;

TEST(cluster_pacer, first_at_once_then_one_per_interval) {
  pacer p(25); // 40 ms apart
  const auto t0 = pacer::clock::now();
  EXPECT_FALSE(p.started());
  EXPECT_EQ(p.take(t0), 1u);
  EXPECT_EQ(p.next(), t0 + 40ms);
  EXPECT_EQ(p.take(t0), 0u);
  EXPECT_EQ(p.take(t0 + 39ms), 0u);
  EXPECT_EQ(p.take(t0 + 40ms), 1u);
  EXPECT_EQ(p.next(), t0 + 80ms);
  // 50 takes at their due times: the last at 49/25 s = 1.96 s after the first.
  pacer q(25);
  std::uint64_t n = q.take(t0);
  auto last = t0;
  while (n < 50) {
    last = q.next();
    n += q.take(last);
  }
  EXPECT_EQ(last, t0 + 1960ms);
}

TEST(cluster_pacer, a_late_caller_gets_no_burst) {
  pacer p(25);
  const auto t0 = pacer::clock::now();
  ASSERT_EQ(p.take(t0), 1u);
  // Woken 1 s late (25 due): one (10 ms worth at 25/s rounds to one), the rest dropped.
  EXPECT_EQ(p.take(t0 + 1s), 1u);
  EXPECT_EQ(p.take(t0 + 1s), 0u);
  EXPECT_EQ(p.next(), t0 + 1040ms);

  pacer fast(10'000); // 100 us apart, 100 per take at most
  ASSERT_EQ(fast.take(t0), 1u);
  EXPECT_EQ(fast.take(t0 + 5ms), 50u); // on time within a batch: what fell due
  EXPECT_EQ(fast.take(t0 + 1s), 100u); // 1 s late: 10 ms worth
  EXPECT_EQ(fast.take(t0 + 1s), 0u);
  EXPECT_EQ(fast.next(), t0 + 1s + 100us);
}

TEST(cluster_pacer, rate_zero_is_one_a_second) {
  pacer p(0);
  const auto t0 = pacer::clock::now();
  EXPECT_EQ(p.take(t0), 1u);
  EXPECT_EQ(p.take(t0 + 999ms), 0u);
  EXPECT_EQ(p.take(t0 + 1s), 1u);
}

} // namespace
} // namespace thingport::cluster
