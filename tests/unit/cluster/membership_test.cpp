// The peer table: sorted by name, this node always up, a peer down 5 s after its last heartbeat
// and up again with the next one; forgotten when it left or after a long silence.
#include "cluster/membership.hpp"

#include <gtest/gtest.h>

namespace thingport::cluster {
namespace {

using namespace std::chrono_literals;

TEST(cluster_membership, heard_within_names_the_recent_peers_only) {
  const auto t0 = steady::time_point{} + std::chrono::hours(1);
  membership m("a");
  m.heard("b", 0, 0, t0);
  m.heard("c", 0, 0, t0 + std::chrono::seconds(2));
  m.heard("a", 0, 0, t0 + std::chrono::seconds(2)); // itself: never listed
  const auto now = t0 + std::chrono::milliseconds(2500);
  EXPECT_EQ(m.heard_within(now, std::chrono::milliseconds(1500)), std::vector<std::string>{"c"});
  EXPECT_EQ(m.heard_within(now, std::chrono::seconds(5)), (std::vector<std::string>{"b", "c"}));
}

TEST(cluster_membership, heard_says_when_a_peer_is_new_to_this_node) {
  // New: never heard, said it left, or down. The node answers those with a heartbeat at once.
  membership m("a", 5s, 60s);
  const auto t0 = steady::time_point{} + std::chrono::hours(1);
  EXPECT_TRUE(m.heard("b", 0, 0, t0));
  EXPECT_FALSE(m.heard("b", 0, 0, t0 + 1s));
  EXPECT_FALSE(m.heard("a", 0, 0, t0 + 1s)); // itself
  EXPECT_TRUE(m.heard("b", 0, 0, t0 + 7s));  // silent for 6 s: was down
  m.left("b");
  EXPECT_TRUE(m.heard("b", 0, 0, t0 + 8s));
  EXPECT_FALSE(m.heard("b", 0, 0, t0 + 9s));
}

TEST(cluster_membership, peers_sorted_down_after_silence_up_again) {
  membership m("node-b");
  const auto t0 = steady::now();
  m.heard("node-c", 3, 2, t0);
  m.heard("node-a", 1, 0, t0);
  m.heard("node-b", 99, 99, t0); // our own heartbeat: ignored
  auto l = m.list({"", true, 7, 4}, t0 + 1s);
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[0].node, "node-a");
  EXPECT_EQ(l[1].node, "node-b");
  EXPECT_EQ(l[1].connections, 7u);
  EXPECT_EQ(l[2].connections, 3u);
  EXPECT_TRUE(l[0].up && l[1].up && l[2].up);
  m.heard("node-c", 4, 2, t0 + 3s);
  l = m.list({}, t0 + 5500ms);
  EXPECT_FALSE(l[0].up); // node-a: silent for 5.5 s
  EXPECT_TRUE(l[1].up);  // self
  EXPECT_TRUE(l[2].up);
  m.heard("node-a", 1, 0, t0 + 6s);
  EXPECT_TRUE(m.list({}, t0 + 6s)[0].up);
}

TEST(cluster_membership, a_peer_that_left_or_stayed_silent_is_forgotten) {
  membership m("self", 5s, 60s);
  const auto t0 = steady::now();
  m.heard("gone", 0, 0, t0);
  m.heard("dead", 0, 0, t0);
  m.heard("live", 0, 0, t0);
  m.left("gone"); // stopped cleanly
  m.left("never-heard");
  auto l = m.list({}, t0 + 1s);
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[0].node, "dead");
  EXPECT_EQ(l[1].node, "live");
  m.heard("live", 0, 0, t0 + 59s);
  l = m.list({}, t0 + 59s);
  ASSERT_EQ(l.size(), 3u);
  EXPECT_FALSE(l[0].up); // dead: down, still listed
  l = m.list({}, t0 + 61s);
  ASSERT_EQ(l.size(), 2u); // dead: forgotten after a minute of silence
  EXPECT_EQ(l[0].node, "live");
  m.heard("gone", 2, 1, t0 + 62s); // back: listed again
  l = m.list({}, t0 + 62s);
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[0].node, "gone");
  EXPECT_TRUE(l[0].up);
}

TEST(cluster_membership, bounded) {
  membership m("self");
  const auto t0 = steady::now();
  for (std::size_t i = 0; i < membership::max_peers + 10; ++i)
    m.heard("n" + std::to_string(i), 0, 0, t0 + std::chrono::milliseconds(i));
  EXPECT_EQ(m.list({}, t0).size(), membership::max_peers + 1);
}

} // namespace
} // namespace thingport::cluster
