// deadline_wheel: a deadline fires once, never early and at most about a second late; cancelled,
// rescheduled and destroyed entries behave; expire() may change other entries of its bucket.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "broker/deadline_wheel.hpp"

namespace thingport::broker {
namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct probe final : wheel_entry {
  int fired = 0;
  int drops = 0;
  clock::time_point at{};
  std::function<void()> on_fire;
  void expire(clock::time_point now) override {
    ++fired;
    at = now;
    if (on_fire)
      on_fire();
  }
  void dropped() override { ++drops; }
};

// Runs the io_context until `done` or `limit` passes (the wheel's timer is the only work).
void run_until(boost::asio::io_context& io, const std::function<bool()>& done,
               clock::duration limit = 4s) {
  const auto end = clock::now() + limit;
  while (!done() && clock::now() < end) {
    io.restart();
    io.run_for(50ms);
  }
}

TEST(DeadlineWheel, FiresOnceNotEarlyAtMostASecondLate) {
  boost::asio::io_context io;
  deadline_wheel w(io);
  probe a;
  const auto due = clock::now() + 300ms;
  w.schedule(a, due);
  EXPECT_TRUE(a.scheduled());
  EXPECT_EQ(w.size(), 1U);
  run_until(io, [&] { return a.fired > 0; });
  ASSERT_EQ(a.fired, 1);
  EXPECT_GE(a.at, due);
  EXPECT_LT(a.at - due, 2s); // a tick after it, with room for a loaded machine
  EXPECT_FALSE(a.scheduled());
  EXPECT_EQ(w.size(), 0U);
}

TEST(DeadlineWheel, CancelledRescheduledAndDestroyedEntries) {
  boost::asio::io_context io;
  deadline_wheel w(io);
  probe cancelled, moved, kept;
  auto gone = std::make_unique<probe>();
  const auto now = clock::now();
  w.schedule(cancelled, now + 100ms);
  w.schedule(moved, now + 100ms);
  w.schedule(*gone, now + 100ms);
  w.schedule(kept, now + 100ms);
  w.cancel(cancelled);
  w.schedule(moved, now + 1500ms); // later: not in the first tick
  gone.reset();                    // unlinks itself
  EXPECT_EQ(w.size(), 2U);
  run_until(io, [&] { return kept.fired > 0; });
  EXPECT_EQ(kept.fired, 1);
  EXPECT_EQ(moved.fired, 0);
  EXPECT_EQ(cancelled.fired, 0);
  run_until(io, [&] { return moved.fired > 0; });
  EXPECT_EQ(moved.fired, 1);
  EXPECT_GE(moved.at, now + 1500ms);
  EXPECT_EQ(cancelled.fired, 0);
}

TEST(DeadlineWheel, ExpireMayCancelOrRescheduleEntriesOfItsBucket) {
  boost::asio::io_context io;
  deadline_wheel w(io);
  std::vector<probe> p(4);
  const auto now = clock::now();
  for (auto& e : p)
    w.schedule(e, now + 100ms);
  // Whichever fires first cancels two others and puts itself back a second later.
  bool first = true;
  for (std::size_t i = 0; i < p.size(); ++i) {
    p[i].on_fire = [&, i] {
      if (!first)
        return;
      first = false;
      w.cancel(p[(i + 1) % p.size()]);
      w.cancel(p[(i + 2) % p.size()]);
      w.schedule(p[i], clock::now() + 1s);
    };
  }
  run_until(
      io,
      [&] {
        int total = 0;
        for (auto& e : p)
          total += e.fired;
        return total >= 3;
      },
      6s); // the re-scheduled one fires in the tick after its second: up to ~3 s from now
  int total = 0;
  for (auto& e : p)
    total += e.fired;
  EXPECT_EQ(total, 3); // the first twice, one survivor once, two cancelled
  EXPECT_EQ(w.size(), 0U);
}

TEST(DeadlineWheel, ClearDropsWhatIsLeft) {
  boost::asio::io_context io;
  probe a, b;
  {
    deadline_wheel w(io);
    w.schedule(a, clock::now() + 10s);
    w.schedule(b, clock::now() + 100s); // beyond one turn of the wheel
    w.clear();
    EXPECT_EQ(w.size(), 0U);
    EXPECT_FALSE(a.scheduled());
  }
  EXPECT_EQ(a.drops, 1);
  EXPECT_EQ(b.drops, 1);
  EXPECT_EQ(a.fired + b.fired, 0);
}

} // namespace
} // namespace thingport::broker
