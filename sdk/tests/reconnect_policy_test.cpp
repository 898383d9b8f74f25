#include "thingport/device/reconnect_policy.hpp"

#include <gtest/gtest.h>

namespace thingport::device {
namespace {

using std::chrono::milliseconds;
using clock = reconnect_policy::clock;

TEST(ReconnectPolicy, DoublesUpToTheCapWithJitterInTheUpperHalf) {
  reconnect_policy p(milliseconds(100), milliseconds(1000), 0);
  const auto t = clock::time_point{} + std::chrono::hours(1);
  p.on_failure();
  EXPECT_EQ(p.next_delay(t, 0.0), milliseconds(50));
  EXPECT_EQ(p.next_delay(t, 0.999), milliseconds(99));
  p.on_failure();
  EXPECT_EQ(p.next_delay(t, 0.0), milliseconds(100));
  p.on_failure();
  EXPECT_EQ(p.next_delay(t, 0.0), milliseconds(200));
  for (int i = 0; i < 10; ++i)
    p.on_failure();
  EXPECT_EQ(p.next_delay(t, 0.0), milliseconds(500)); // capped at max
  EXPECT_LE(p.next_delay(t, 1.0), milliseconds(1000));
  p.on_success();
  p.on_failure();
  EXPECT_EQ(p.next_delay(t, 0.0), milliseconds(50)); // starts over after a connect
}

// However fast attempts fail, no 60 s window ever holds more than per_minute attempts.
TEST(ReconnectPolicy, NeverMoreThanFivePerMinute) {
  reconnect_policy p(milliseconds(10), milliseconds(10), 5);
  auto now = clock::time_point{} + std::chrono::hours(1);
  std::vector<clock::time_point> starts;
  for (int i = 0; i < 23; ++i) {
    starts.push_back(now);
    p.on_attempt(now);
    p.on_failure();
    now += p.next_delay(now, 0.5);
  }
  for (std::size_t i = 5; i < starts.size(); ++i) {
    EXPECT_GE(starts[i] - starts[i - 5], std::chrono::minutes(1)) << "attempt " << i;
  }
  // ...and it is not slower than needed: the 6th attempt comes exactly a minute after the 1st.
  EXPECT_LE(starts[5] - starts[0], std::chrono::minutes(1) + milliseconds(1));
}

TEST(ReconnectPolicy, NoCeilingWhenZero) {
  reconnect_policy p(milliseconds(10), milliseconds(10), 0);
  auto now = clock::time_point{};
  for (int i = 0; i < 100; ++i) {
    p.on_attempt(now);
    p.on_failure();
    EXPECT_LE(p.next_delay(now, 0.5), milliseconds(10));
  }
}

} // namespace
} // namespace thingport::device
