#include "auth/topic_pattern.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace thingport::auth {
namespace {

std::vector<std::string> levels(std::string_view s) {
  std::vector<std::string> out;
  level_reader r(s);
  while (!r.done()) {
    out.emplace_back(r.next());
  }
  return out;
}

TEST(AuthLevelReader, Splits) {
  EXPECT_EQ(levels("/a/b"), (std::vector<std::string>{"", "a", "b"}));
  EXPECT_EQ(levels("a"), (std::vector<std::string>{"a"}));
  EXPECT_EQ(levels("a/"), (std::vector<std::string>{"a", ""}));
  EXPECT_EQ(levels("//"), (std::vector<std::string>{"", "", ""}));
  EXPECT_EQ(levels(""), (std::vector<std::string>{""}));
}

TEST(AuthTopicPattern, PlaceholderSpellings) {
  for (std::string_view t : {"/${productKey}/${deviceName}/user/get", "/${pk}/${dn}/user/get",
                             "/{pk}/{dn}/user/get", "/{productKey}/{deviceName}/user/get"}) {
    const auto p = topic_pattern::compile(t);
    ASSERT_TRUE(p) << t;
    EXPECT_TRUE(p->covers("/pk1/dev1/user/get", "pk1", "dev1")) << t;
    EXPECT_FALSE(p->covers("/pk1/dev2/user/get", "pk1", "dev1")) << t;
    EXPECT_FALSE(p->covers("/pk2/dev1/user/get", "pk1", "dev1")) << t;
  }
}

TEST(AuthTopicPattern, CompileRefuses) {
  for (std::string_view t :
       {"", "/a/#/b", "/a/b+", "/a/#b", "/${foo}/x", "/{pk}x/y", "/x${pk}/y", "/{dn/x", "/a/$x"}) {
    EXPECT_FALSE(topic_pattern::compile(t)) << t;
  }
  EXPECT_FALSE(topic_pattern::compile(std::string("/a\0b", 4)));
  EXPECT_TRUE(topic_pattern::compile("#"));
  EXPECT_TRUE(topic_pattern::compile("/a/+/c/#"));
}

TEST(AuthTopicPattern, Containment) {
  const auto p = *topic_pattern::compile("/sys/{pk}/{dn}/thing/#");
  EXPECT_TRUE(p.covers("/sys/pk/dev1/thing/#", "pk", "dev1"));
  EXPECT_TRUE(p.covers("/sys/pk/dev1/thing", "pk", "dev1")); // '#' includes the parent
  EXPECT_TRUE(p.covers("/sys/pk/dev1/thing/event/+/post", "pk", "dev1"));
  EXPECT_TRUE(p.covers("/sys/pk/dev1/thing/event/property/post", "pk", "dev1"));
  EXPECT_TRUE(p.covers("/sys/pk/dev1/thing/+/#", "pk", "dev1"));
  EXPECT_FALSE(p.covers("/sys/pk/+/thing/#", "pk", "dev1"));
  EXPECT_FALSE(p.covers("/sys/pk/dev1/#", "pk", "dev1"));
  EXPECT_FALSE(p.covers("/sys/pk/dev1/+", "pk", "dev1"));
  EXPECT_FALSE(p.covers("/sys/+/dev1/thing/#", "pk", "dev1"));
  EXPECT_FALSE(p.covers("#", "pk", "dev1"));
  EXPECT_FALSE(p.covers("/sys/pk/dev1/things", "pk", "dev1"));

  const auto plus = *topic_pattern::compile("/{pk}/{dn}/user/+/status");
  EXPECT_TRUE(plus.covers("/pk/dev1/user/+/status", "pk", "dev1"));
  EXPECT_TRUE(plus.covers("/pk/dev1/user/lamp/status", "pk", "dev1"));
  EXPECT_FALSE(plus.covers("/pk/dev1/user/#", "pk", "dev1"));
  EXPECT_FALSE(plus.covers("/pk/dev1/user/+/#", "pk", "dev1"));
  EXPECT_FALSE(plus.covers("/pk/dev1/user/+/status/x", "pk", "dev1"));
  EXPECT_FALSE(plus.covers("/pk/dev1/user/a/b/status", "pk", "dev1"));

  const auto exact = *topic_pattern::compile("/{pk}/{dn}/user/get");
  EXPECT_TRUE(exact.covers("/pk/dev1/user/get", "pk", "dev1"));
  EXPECT_FALSE(exact.covers("/pk/dev1/user/+", "pk", "dev1"));
  EXPECT_FALSE(exact.covers("/pk/dev1/user/get/x", "pk", "dev1"));
  EXPECT_FALSE(exact.covers("/pk/dev1/user", "pk", "dev1"));
}

TEST(AuthTopicPattern, AnyDevice) {
  const auto p = *topic_pattern::compile("/ext/session/{pk}/{dn}/combine/#");
  std::string_view dn;
  EXPECT_TRUE(p.covers_any_device("/ext/session/pk/gate1/combine/login_reply", "pk", &dn));
  EXPECT_EQ(dn, "gate1");
  EXPECT_FALSE(p.covers_any_device("/ext/session/pk/+/combine/login_reply", "pk"));
  EXPECT_FALSE(p.covers_any_device("/ext/session/pk/ab/combine/login_reply", "pk")); // too short
  EXPECT_FALSE(p.covers_any_device("/ext/session/pk2/gate1/combine/x", "pk"));
  const auto twice = *topic_pattern::compile("/{dn}/{pk}/{dn}");
  EXPECT_TRUE(twice.covers_any_device("/dev1/pk/dev1", "pk"));
  EXPECT_FALSE(twice.covers_any_device("/dev1/pk/dev2", "pk"));
  const auto none = *topic_pattern::compile("/broadcast/{pk}/#");
  EXPECT_TRUE(none.covers_any_device("/broadcast/pk/all", "pk", &dn));
  EXPECT_EQ(dn, "");
}

TEST(AuthTopicValidity, Basic) {
  EXPECT_TRUE(valid_topic_name_basic("/a/b"));
  EXPECT_FALSE(valid_topic_name_basic(""));
  EXPECT_FALSE(valid_topic_name_basic("/a/+"));
  EXPECT_FALSE(valid_topic_name_basic("/a/#"));
  EXPECT_FALSE(valid_topic_name_basic(std::string("/a\0", 3)));
  EXPECT_TRUE(valid_topic_filter_basic("/a/+/#"));
  EXPECT_TRUE(valid_topic_filter_basic("#"));
  EXPECT_TRUE(valid_topic_filter_basic("+"));
  EXPECT_FALSE(valid_topic_filter_basic("/a/#/b"));
  EXPECT_FALSE(valid_topic_filter_basic("/a/b#"));
  EXPECT_FALSE(valid_topic_filter_basic("/a/+b"));
  EXPECT_FALSE(valid_topic_filter_basic(""));
  EXPECT_FALSE(valid_topic_filter_basic(std::string("/a/\0", 4)));
}

} // namespace
} // namespace thingport::auth
