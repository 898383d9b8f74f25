#include "api/json_body.hpp"

#include <gtest/gtest.h>

namespace thingport::api {
namespace {

std::string message_of(const json_body& b) {
  return b.error() ? b.error()->message : "";
}

TEST(ApiJsonBody, ReadsKnownFields) {
  auto b = json_body::parse(R"({"name":"x","n":5,"on":true,"list":["a","b"],"gone":null})",
                            {"name", "n", "on", "list", "gone"});
  EXPECT_EQ(b.string("name", true), "x");
  EXPECT_EQ(b.integer("n"), 5);
  EXPECT_EQ(b.boolean("on"), true);
  EXPECT_EQ(b.strings("list", 10), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(b.string("gone")); // null counts as absent
  EXPECT_FALSE(b.string("absent"));
  EXPECT_FALSE(b.error());
}

TEST(ApiJsonBody, EmptyBodyIsAnEmptyObject) {
  auto b = json_body::parse(" \r\n", {"deviceName"});
  EXPECT_FALSE(b.error());
  EXPECT_FALSE(b.string("deviceName"));
  EXPECT_FALSE(b.error());
  b.string("deviceName", true);
  EXPECT_EQ(message_of(b), "missing field \"deviceName\"");
}

TEST(ApiJsonBody, BrokenJsonAndNonObjects) {
  EXPECT_NE(message_of(json_body::parse("{\"name\":", {"name"})).find("not valid JSON"),
            std::string::npos);
  EXPECT_EQ(message_of(json_body::parse("[1,2]", {})), "body must be a JSON object");
  EXPECT_EQ(message_of(json_body::parse("\"text\"", {})), "body must be a JSON object");
  const std::string deep(100, '[');
  EXPECT_TRUE(json_body::parse(deep, {}).error());
}

TEST(ApiJsonBody, UnknownFieldIsRefusedByName) {
  auto b = json_body::parse(R"({"name":"x","nmae":"y"})", {"name"});
  EXPECT_EQ(message_of(b), "unknown field \"nmae\"");
  EXPECT_EQ(b.error()->status, http::status::bad_request);
  EXPECT_FALSE(b.string("name")); // nothing is read once refused
}

TEST(ApiJsonBody, WrongTypes) {
  auto b = json_body::parse(R"({"name":5})", {"name"});
  b.string("name");
  EXPECT_EQ(message_of(b), "field \"name\" must be a string");

  b = json_body::parse(R"({"n":"5"})", {"n"});
  b.integer("n");
  EXPECT_EQ(message_of(b), "field \"n\" must be an integer");

  b = json_body::parse(R"({"n":1.5})", {"n"});
  b.integer("n");
  EXPECT_EQ(message_of(b), "field \"n\" must be an integer");

  b = json_body::parse(R"({"n":18446744073709551615})", {"n"});
  b.integer("n");
  EXPECT_EQ(message_of(b), "field \"n\" must be an integer in range");

  b = json_body::parse(R"({"on":1})", {"on"});
  b.boolean("on");
  EXPECT_EQ(message_of(b), "field \"on\" must be true or false");

  b = json_body::parse(R"({"list":["a",1]})", {"list"});
  b.strings("list", 10);
  EXPECT_EQ(message_of(b), "field \"list\" must be an array of strings");

  b = json_body::parse(R"({"list":["a","b","c"]})", {"list"});
  b.strings("list", 2);
  EXPECT_EQ(message_of(b), "field \"list\" has over 2 entries");
}

TEST(ApiJsonBody, FirstProblemWins) {
  auto b = json_body::parse(R"({"a":1,"b":2})", {"a", "b"});
  b.string("a");
  b.string("b");
  b.fail("later");
  EXPECT_EQ(message_of(b), "field \"a\" must be a string");
}

TEST(ApiJsonBody, RefusesDuplicateKeysAtAnyDepth) {
  EXPECT_EQ(duplicate_key(R"({"a":1,"a":2})"), "a");
  EXPECT_EQ(duplicate_key(R"({"a":{"b":1,"c":[{"d":1,"d":2}]}})"), "d");
  EXPECT_EQ(duplicate_key(R"({"a":{"b":1},"b":{"b":2}})"), std::nullopt); // other objects
  EXPECT_EQ(duplicate_key(R"([{"a":1},{"a":1}])"), std::nullopt);
  EXPECT_EQ(duplicate_key(R"({"k\u0061":1,"ka":2})"), "ka"); // the same key, escaped
  EXPECT_EQ(duplicate_key("not json"), std::nullopt);
  auto b = json_body::parse(R"({"name":"x","name":"y"})", {"name"});
  ASSERT_TRUE(b.error());
  EXPECT_EQ(message_of(b), "duplicate field \"name\"");
}

} // namespace
} // namespace thingport::api
