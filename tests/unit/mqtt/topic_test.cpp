#include "mqtt/topic.hpp"

#include <gtest/gtest.h>

#include <string>

#include "test_util.hpp"

namespace thingport::mqtt {
namespace {

std::string utf8(std::string_view hex) {
  const auto b = test::from_hex(hex);
  return {b.begin(), b.end()};
}

struct utf8_case {
  const char* what;
  const char* hex;
  bool valid;
};

TEST(MqttUtf8, EdgeCases) {
  const utf8_case cases[] = {
      {"empty", "", true},
      {"ascii", "68 65 6c 6c 6f", true},
      {"control characters are allowed", "01 1f 7f", true},
      {"U+0000", "00", false},
      {"U+0000 after text", "61 00", false},
      {"U+0080", "c2 80", true},
      {"U+07FF", "df bf", true},
      {"overlong NUL C0 80", "c0 80", false},
      {"overlong C1 BF", "c1 bf", false},
      {"overlong 3-byte E0 80 80", "e0 80 80", false},
      {"overlong 3-byte E0 9F BF", "e0 9f bf", false},
      {"U+0800", "e0 a0 80", true},
      {"U+D7FF", "ed 9f bf", true},
      {"surrogate U+D800 ED A0 80", "ed a0 80", false},
      {"surrogate U+DFFF ED BF BF", "ed bf bf", false},
      {"U+E000", "ee 80 80", true},
      {"BOM U+FEFF is kept, not stripped", "ef bb bf", true},
      {"noncharacter U+FFFF", "ef bf bf", true},
      {"overlong 4-byte F0 8F BF BF", "f0 8f bf bf", false},
      {"U+10000", "f0 90 80 80", true},
      {"emoji U+1F600", "f0 9f 98 80", true},
      {"U+10FFFF", "f4 8f bf bf", true},
      {"above U+10FFFF F4 90 80 80", "f4 90 80 80", false},
      {"lead F5", "f5 80 80 80", false},
      {"lead FE", "fe", false},
      {"lead FF", "ff", false},
      {"lone continuation", "80", false},
      {"truncated 2-byte", "c2", false},
      {"truncated 3-byte", "e2 82", false},
      {"truncated 4-byte", "f0 9f 98", false},
      {"bad continuation", "e2 28 a1", false},
      {"valid then truncated", "61 62 e2 82", false},
      {"mixed", "61 c3 a9 e4 b8 ad f0 9f 98 80 7a", true},
  };
  for (const auto& c : cases)
    EXPECT_EQ(valid_utf8(utf8(c.hex)), c.valid) << c.what << " [" << c.hex << "]";
}

TEST(MqttTopicName, Valid) {
  for (const char* t : {"a", "/", "a/b", "/a/", "sport/tennis/player1", "$SYS/broker/load", "a b",
                        "//", "caf\xc3\xa9"})
    EXPECT_TRUE(valid_topic_name(t)) << t;
  EXPECT_TRUE(valid_topic_name(std::string(65535, 'a')));
}

TEST(MqttTopicName, Invalid) {
  for (const char* t : {"", "+", "#", "a/+", "a/#", "a+b", "sport/tennis#"})
    EXPECT_FALSE(valid_topic_name(t)) << t;
  EXPECT_FALSE(valid_topic_name(std::string("a\0b", 3)));
  EXPECT_FALSE(valid_topic_name(utf8("61 c0 80")));
  EXPECT_FALSE(valid_topic_name(std::string(65536, 'a')));
}

TEST(MqttTopicFilter, Valid) {
  for (const char* f : {"a", "#", "+", "/", "+/+", "/+", "+/", "a/+/b", "a/#", "/#", "+/#",
                        "sport/tennis/#", "sport/+/player1", "$SYS/#", "+/+/+/#", "a//b"})
    EXPECT_TRUE(valid_topic_filter(f)) << f;
  EXPECT_TRUE(valid_topic_filter(std::string(65535, 'a')));
}

TEST(MqttTopicFilter, Invalid) {
  for (const char* f : {"", "a#", "#a", "a/#/b", "#/", "#/a", "##", "a+", "+a", "a/b+", "++",
                        "sport/tennis#", "sport+", "a/+b/c"})
    EXPECT_FALSE(valid_topic_filter(f)) << f;
  EXPECT_FALSE(valid_topic_filter(std::string("a/\0", 3)));
  EXPECT_FALSE(valid_topic_filter(utf8("2b 2f ed a0 80")));
  EXPECT_FALSE(valid_topic_filter(std::string(65536, 'a')));
}

struct match_case {
  const char* filter;
  const char* topic;
  bool matches;
};

TEST(MqttTopicMatches, Table) {
  const match_case cases[] = {
      // exact
      {"a", "a", true},
      {"a", "b", false},
      {"a/b", "a/b", true},
      {"a/b", "a", false},
      {"a", "a/b", false},
      {"a/b", "a/b/", false},
      {"/a", "a", false},
      {"a/", "a/", true},
      // '#' (§4.7.1.2)
      {"sport/tennis/player1/#", "sport/tennis/player1", true},
      {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
      {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
      {"sport/tennis/#", "sport/tennis", true},
      {"sport/#", "sport", true},
      {"sport/#", "sports", false},
      {"sport/#", "sport/", true},
      {"#", "a", true},
      {"#", "/", true},
      {"#", "a/b/c", true},
      {"/#", "/a", true},
      {"/#", "a", false},
      // '+' (§4.7.1.3)
      {"sport/tennis/+", "sport/tennis/player1", true},
      {"sport/tennis/+", "sport/tennis/player2", true},
      {"sport/tennis/+", "sport/tennis/player1/ranking", false},
      {"sport/tennis/+", "sport/tennis", false},
      {"sport/+", "sport", false},
      {"sport/+", "sport/", true},
      {"+", "a", true},
      {"+", "/finance", false},
      {"/+", "/finance", true},
      {"+/+", "/finance", true},
      {"+/+", "/", true},
      {"+", "/", false},
      {"/+", "/", true},
      {"+/", "/", true},
      {"a/+/c", "a/b/c", true},
      {"a/+/c", "a//c", true},
      {"a/+/c", "a/b/d", false},
      {"+/#", "a", true},
      {"+/#", "a/b/c", true},
      {"+/+/#", "a", false},
      // '$' topics (§4.7.2) [MQTT-4.7.2-1]
      {"#", "$SYS", false},
      {"#", "$SYS/broker/load", false},
      {"+/monitor/Clients", "$SYS/monitor/Clients", false},
      {"+", "$SYS", false},
      {"$SYS/#", "$SYS/monitor/Clients", true},
      {"$SYS/#", "$SYS", true},
      {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
      {"$SYS/+/Clients", "$SYS/monitor/Clients", true},
      {"a/#", "a/$SYS", true},
      {"+/$x", "a/$x", true},
      {"#", "a$", true},
      // case-sensitive, no normalisation
      {"ACCOUNTS", "Accounts", false},
      {"a b", "a b", true},
  };
  for (const auto& c : cases) {
    ASSERT_TRUE(valid_topic_filter(c.filter)) << c.filter;
    ASSERT_TRUE(valid_topic_name(c.topic)) << c.topic;
    EXPECT_EQ(topic_matches(c.filter, c.topic), c.matches)
        << "filter '" << c.filter << "' topic '" << c.topic << "'";
  }
}

} // namespace
} // namespace thingport::mqtt
