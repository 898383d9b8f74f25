#include "auth/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace thingport::auth {
namespace {

using namespace std::chrono_literals;
using clock_type = connect_rate_limiter::clock;
const clock_type::time_point t0 = clock_type::time_point{} + 100h;

TEST(AuthRateLimiter, FivePerMinute) {
  connect_rate_limiter l;
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(l.allow("d|pk/dev1", t0 + std::chrono::seconds(i)));
  }
  EXPECT_FALSE(l.allow("d|pk/dev1", t0 + 10s));
  EXPECT_FALSE(l.allow("d|pk/dev1", t0 + 59s));
  EXPECT_TRUE(l.allow("d|pk/dev2", t0 + 59s)); // keys are independent
}

TEST(AuthRateLimiter, SlidingWindow) {
  connect_rate_limiter l;
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(l.allow("k", t0));
  }
  // Half-way through the next window half of the previous count still weighs: 2.5 + cur < 5.
  const auto half = t0 + 90s;
  EXPECT_TRUE(l.allow("k", half));
  EXPECT_TRUE(l.allow("k", half));
  EXPECT_TRUE(l.allow("k", half));
  EXPECT_FALSE(l.allow("k", half));
  // Two quiet windows later everything is forgotten.
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(l.allow("k", t0 + 5min));
  }
  EXPECT_FALSE(l.allow("k", t0 + 5min));
}

TEST(AuthRateLimiter, RefusedAttemptsAreNotCounted) {
  connect_rate_limiter l({.max_attempts = 1, .window = 10s, .max_keys = 100});
  EXPECT_TRUE(l.allow("k", t0));
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(l.allow("k", t0 + 1s));
  }
  EXPECT_TRUE(l.allow("k", t0 + 20s));
}

TEST(AuthRateLimiter, BoundedKeysFailOpen) {
  connect_rate_limiter l({.max_attempts = 1, .window = 60s, .max_keys = 3});
  for (int i = 0; i < 1000; ++i) {
    l.allow("key" + std::to_string(i), t0);
  }
  EXPECT_LE(l.size(), 3U);
  EXPECT_FALSE(l.allow("key0", t0));  // tracked
  EXPECT_TRUE(l.allow("key999", t0)); // untracked: allowed
  EXPECT_TRUE(l.allow("key999", t0));
  // After the windows roll over the table empties.
  l.allow("fresh", t0 + 10min);
  EXPECT_EQ(l.size(), 1U);
}

TEST(AuthRateLimiter, TimeGoingBackwards) {
  connect_rate_limiter l;
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(l.allow("k", t0));
  }
  EXPECT_FALSE(l.allow("k", t0 - 1h));
}

TEST(AuthRateLimiter, ConcurrentCallers) {
  connect_rate_limiter l;
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        if (l.allow("shared", t0)) {
          ++allowed;
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(allowed.load(), 5);
}

} // namespace
} // namespace thingport::auth
