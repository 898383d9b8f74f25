// MQTT topics and filters as NATS subjects: every level NATS cannot carry is escaped and comes
// back exactly; filters become the wildcard subjects that cover them.
#include "cluster/subject.hpp"

#include <gtest/gtest.h>

namespace thingport::cluster {
namespace {

TEST(cluster_subject, plain_levels_are_tokens) {
  EXPECT_EQ(subject_of_topic("a/b/c"), "thingport.m.a.b.c");
  EXPECT_EQ(subject_of_topic("$SYS/x"), "thingport.m.$SYS.x");
  EXPECT_EQ(subject_of_topic("a/b", true), "thingport.r.a.b");
}

TEST(cluster_subject, levels_nats_cannot_carry_are_escaped) {
  EXPECT_EQ(subject_of_topic("/pk/dn/user/get"), "thingport.m.%.pk.dn.user.get");
  EXPECT_EQ(subject_of_topic("a.b/*/>/x y/50%"), "thingport.m.%a%2Eb.%%2A.%%3E.%x%20y.%50%25");
  EXPECT_EQ(subject_of_topic("a//"), "thingport.m.a.%.%");
  EXPECT_EQ(subject_of_topic("\xe6\xb8\xa9"), "thingport.m.%%E6%B8%A9");
}

TEST(cluster_subject, every_topic_comes_back) {
  for (const char* t : {"a", "/", "//", "a/b", "/pk/dn/thing/event/property/post", "a.b/c", "%",
                        "%%/%2E", "x y\t/\x01", "*/>/#x", "\xe6\xb8\xa9\xe5\xba\xa6"}) {
    const auto s = subject_of_topic(t);
    ASSERT_TRUE(s) << t;
    EXPECT_EQ(topic_of_subject(*s), t) << *s;
    const auto r = subject_of_topic(t, true);
    EXPECT_EQ(topic_of_subject(*r), t) << *r;
  }
}

TEST(cluster_subject, foreign_or_broken_subjects_are_refused) {
  EXPECT_FALSE(topic_of_subject("thingport.m."));
  EXPECT_FALSE(topic_of_subject("other.a"));
  EXPECT_FALSE(topic_of_subject("thingport.m.a..b"));
  EXPECT_FALSE(topic_of_subject("thingport.m.%%4"));
  EXPECT_FALSE(topic_of_subject("thingport.m.%%zz"));
}

TEST(cluster_subject, filters_map_to_wildcards) {
  using v = std::vector<std::string>;
  EXPECT_EQ(subjects_of_filter("a/+/c"), (v{"thingport.m.a.*.c"}));
  EXPECT_EQ(subjects_of_filter("#"), (v{"thingport.m.>"}));
  EXPECT_EQ(subjects_of_filter("a/#"), (v{"thingport.m.a.>", "thingport.m.a"}));
  EXPECT_EQ(subjects_of_filter("/pk/+/user/#"),
            (v{"thingport.m.%.pk.*.user.>", "thingport.m.%.pk.*.user"}));
  EXPECT_EQ(subjects_of_filter("a.b/+"), (v{"thingport.m.%a%2Eb.*"}));
}

TEST(cluster_subject, too_long_is_not_sent) {
  const std::string topic(max_subject, '.');
  EXPECT_FALSE(subject_of_topic(topic));
  EXPECT_TRUE(subjects_of_filter(topic).empty());
}

} // namespace
} // namespace thingport::cluster
