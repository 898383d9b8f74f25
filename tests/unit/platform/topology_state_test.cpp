// gateway_state: the per-gateway login bucket and the found list (docs/protocol.md "Gateways").
#include "platform/topology_state.hpp"

#include <gtest/gtest.h>

namespace {

using thingport::platform::gateway_state;
using thingport::store::device_ref;
using namespace std::chrono_literals;

thingport::store::timestamp at(long ms) {
  return thingport::store::timestamp(std::chrono::milliseconds(ms));
}

TEST(gateway_state, a_bucket_holds_one_second_and_refills) {
  gateway_state g(100);
  const auto t0 = gateway_state::clock::now();
  EXPECT_TRUE(g.take_logins("pk", "gw", 50, t0));
  EXPECT_TRUE(g.take_logins("pk", "gw", 50, t0));
  EXPECT_FALSE(g.take_logins("pk", "gw", 1, t0));          // empty
  EXPECT_TRUE(g.take_logins("pk", "other", 100, t0));      // each gateway has its own
  EXPECT_FALSE(g.take_logins("pk", "gw", 50, t0 + 100ms)); // 10 back: a batch is all or none
  EXPECT_TRUE(g.take_logins("pk", "gw", 10, t0 + 100ms));
  EXPECT_TRUE(g.take_logins("pk", "gw", 100, t0 + 5s)); // refilled to one second, no more
  EXPECT_FALSE(g.take_logins("pk", "gw", 1, t0 + 5s));
  EXPECT_EQ(g.logins_refused(), 3u);
}

TEST(gateway_state, zero_means_no_bound) {
  gateway_state g(0);
  const auto t0 = gateway_state::clock::now();
  for (int i = 0; i < 100; ++i)
    EXPECT_TRUE(g.take_logins("pk", "gw", 50, t0));
  EXPECT_EQ(g.logins_refused(), 0u);
}

TEST(gateway_state, found_devices_are_kept_per_gateway_and_bounded) {
  gateway_state g;
  EXPECT_TRUE(g.report_found("pk", "gw", {{"sp", "b"}, {"sp", "a"}}, at(1)));
  EXPECT_TRUE(g.report_found("pk", "gw", {{"sp", "a"}}, at(2))); // seen again: updated
  auto f = g.found("pk", "gw");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].ref, (device_ref{"sp", "a"}));
  EXPECT_EQ(f[0].at, at(2));
  EXPECT_TRUE(g.found("pk", "other").empty());
  g.forget_found("pk", "gw", {{"sp", "a"}});
  ASSERT_EQ(g.found("pk", "gw").size(), 1u);
  std::vector<device_ref> many;
  for (std::size_t i = 0; i < gateway_state::max_found; ++i)
    many.push_back({"sp", "d" + std::to_string(i)});
  EXPECT_FALSE(g.report_found("pk", "gw", many, at(3))); // 1 + 1500: over, nothing recorded
  EXPECT_EQ(g.found("pk", "gw").size(), 1u);
  many.pop_back();
  EXPECT_TRUE(g.report_found("pk", "gw", many, at(3)));
  EXPECT_EQ(g.found("pk", "gw").size(), gateway_state::max_found);
}

} // namespace
