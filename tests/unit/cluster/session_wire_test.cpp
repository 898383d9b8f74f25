// The messages of a session moving between nodes: what a node sends comes back exactly (binary
// payloads, several parts for a large session), and what a peer should never send is refused.
#include "cluster/session_wire.hpp"

#include <gtest/gtest.h>

namespace thingport::cluster {
namespace {

broker::session_snapshot sample() {
  broker::session_snapshot s;
  s.key = "d|pk/dn";
  s.subscriptions = {{"/pk/dn/user/#", 1}, {"a/+/b", 0}};
  s.messages = {{"/pk/dn/user/get", std::string("\x00\xff\x01 bin", 7), 1, false},
                {"t", "", 2, true},
                {"t/u", "hello", 1, false}};
  return s;
}

TEST(session_wire, a_claim_comes_back) {
  const claim_request c{42, "node-b", "d|pk/dn", "thingport.handover.node-b.ab", true};
  const auto back = decode_claim(encode_claim(c));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->id, 42u);
  EXPECT_EQ(back->node, "node-b");
  EXPECT_EQ(back->key, "d|pk/dn");
  EXPECT_EQ(back->reply, "thingport.handover.node-b.ab");
  EXPECT_TRUE(back->clean);
}

TEST(session_wire, a_session_comes_back_in_one_part) {
  const auto s = sample();
  const auto parts = encode_handover(7, "node-a", s.key, &s, 1 << 20);
  ASSERT_EQ(parts.size(), 1u);
  const auto p = decode_handover(parts[0]);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->id, 7u);
  EXPECT_EQ(p->node, "node-a");
  EXPECT_TRUE(p->last);
  EXPECT_TRUE(p->present);
  EXPECT_EQ(p->session, s);
}

TEST(session_wire, no_session_is_one_last_part_not_present) {
  const auto parts = encode_handover(7, "node-a", "k", nullptr, 1 << 20);
  ASSERT_EQ(parts.size(), 1u);
  const auto p = decode_handover(parts[0]);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->last);
  EXPECT_FALSE(p->present);
  EXPECT_TRUE(p->session.subscriptions.empty() && p->session.messages.empty());
}

TEST(session_wire, a_large_session_is_split_and_joined_in_order) {
  broker::session_snapshot s;
  s.key = "c1";
  for (int i = 0; i < 300; ++i)
    s.subscriptions.push_back({"f/" + std::to_string(i), 1});
  for (int i = 0; i < 500; ++i)
    s.messages.push_back(
        {"t/" + std::to_string(i), std::string(1000, static_cast<char>(i)), 1, false});
  const auto parts = encode_handover(1, "a", s.key, &s, 64 * 1024);
  ASSERT_GT(parts.size(), 5u);
  broker::session_snapshot joined;
  joined.key = s.key;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    EXPECT_LE(parts[i].size(), 100u * 1024) << i;
    const auto p = decode_handover(parts[i]);
    ASSERT_TRUE(p) << i;
    EXPECT_EQ(p->last, i + 1 == parts.size());
    EXPECT_TRUE(p->present);
    joined.subscriptions.insert(joined.subscriptions.end(), p->session.subscriptions.begin(),
                                p->session.subscriptions.end());
    joined.messages.insert(joined.messages.end(), p->session.messages.begin(),
                           p->session.messages.end());
  }
  EXPECT_EQ(joined, s);
}

TEST(session_wire, a_message_larger_than_a_part_has_a_part_of_its_own) {
  broker::session_snapshot s;
  s.key = "c1";
  s.messages = {
      {"a", "x", 1, false}, {"b", std::string(5000, 'y'), 1, false}, {"c", "z", 1, false}};
  const auto parts = encode_handover(1, "a", s.key, &s, 1000);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(decode_handover(parts[1])->session.messages.at(0).payload.size(), 5000u);
}

TEST(session_wire, offers_carry_every_key_in_bounded_bodies) {
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i)
    keys.push_back("d|pk/dev-" + std::to_string(i));
  const auto bodies = encode_offers("node-a", keys, 2048);
  ASSERT_GT(bodies.size(), 5u);
  std::vector<std::string> back;
  for (const auto& b : bodies) {
    EXPECT_LE(b.size(), 2048u + 128);
    const auto o = decode_offer(b);
    ASSERT_TRUE(o);
    EXPECT_EQ(o->node, "node-a");
    back.insert(back.end(), o->keys.begin(), o->keys.end());
  }
  EXPECT_EQ(back, keys);
  EXPECT_TRUE(encode_offers("a", {}, 2048).empty());
  EXPECT_FALSE(decode_offer(R"({"node":"a","keys":[""]})"));
  EXPECT_FALSE(decode_offer(R"({"node":"a","keys":[1]})"));
  EXPECT_FALSE(decode_offer(R"({"node":"a"})"));
  EXPECT_FALSE(decode_offer(R"({"keys":["k"]})"));
}

TEST(session_wire, what_a_peer_should_never_send_is_refused) {
  const auto ok = R"({"id":1,"node":"a","key":"k","last":true,"present":true,)";
  EXPECT_TRUE(decode_handover(std::string(ok) + R"("msgs":[["t","aGk=",1,false]]})"));
  for (const char* bad : {
           R"("msgs":[["t/#","aGk=",1,false]]})", // a wildcard as a topic
           R"("msgs":[["t","aGk",1,false]]})",    // base64 of a wrong length
           R"("msgs":[["t","a=Gk",1,false]]})",   // padding inside
           R"("msgs":[["t","aG!k",1,false]]})",   // not base64
           R"("msgs":[["t","aGk=",0,false]]})",   // QoS 0 is never kept
           R"("msgs":[["t","aGk=",3,false]]})",
           R"("msgs":[["t","aGk=",1]]})",
           R"("msgs":[["","aGk=",1,false]]})",
           R"("subs":[["a/#/b",1]]})", // not a filter
           R"("subs":[["a",3]]})",
           R"("subs":{"a":1}})",
       })
    EXPECT_FALSE(decode_handover(std::string(ok) + bad)) << bad;
  EXPECT_FALSE(decode_handover(R"({"id":1,"node":"a","key":"k","last":true,"present":false,)"
                               R"("subs":[["a",1]]})")); // contents with no session
  EXPECT_FALSE(decode_handover(R"({"id":-1,"node":"a","key":"k"})"));
  EXPECT_FALSE(decode_handover(R"({"id":1,"node":"","key":"k"})"));
  EXPECT_FALSE(decode_handover(R"({"id":1,"node":"a","key":"k","last":1})"));
  EXPECT_FALSE(decode_handover("[1,2]"));
  EXPECT_FALSE(decode_handover("{"));
  EXPECT_FALSE(decode_claim(R"({"id":1,"node":"a","key":"","reply":"r"})"));
  EXPECT_FALSE(decode_claim(R"({"id":1,"node":"a","key":"\u00ff\ud800","reply":"r"})"));
  EXPECT_FALSE(decode_claim(R"({"id":1,"node":"a","key":"k"})"));
  EXPECT_FALSE(decode_claim(std::string(R"({"id":1,"node":"a","reply":"r","key":")") +
                            std::string(70000, 'k') + "\"}"));
}

} // namespace
} // namespace thingport::cluster
