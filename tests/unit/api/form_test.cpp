#include "api/form.hpp"

#include <gtest/gtest.h>

namespace thingport::api {
namespace {

TEST(ApiForm, DecodesEscapesAndPlus) {
  const auto f = parse_form("a=a%2Fb%40c&b=a+b&c=%e4%B8%ad");
  ASSERT_TRUE(f);
  EXPECT_EQ(form_value(*f, "a"), "a/b@c");
  EXPECT_EQ(form_value(*f, "b"), "a b");
  EXPECT_EQ(form_value(*f, "c"), "\xe4\xb8\xad");
  for (const char* bad : {"a=%", "a=%4", "a=a%zz", "a=%g0", "a=abc%"})
    EXPECT_FALSE(parse_form(bad).has_value()) << bad;
}

TEST(ApiForm, ParsesRegistrationBody) {
  const auto f = parse_form(
      "productKey=a1B2c3&deviceName=dev%401&random=123&sign=ABCDEF&signMethod=hmacsha256");
  ASSERT_TRUE(f);
  EXPECT_EQ(form_value(*f, "productKey"), "a1B2c3");
  EXPECT_EQ(form_value(*f, "deviceName"), "dev@1");
  EXPECT_EQ(form_value(*f, "signMethod"), "hmacsha256");
  EXPECT_FALSE(form_value(*f, "missing"));
}

TEST(ApiForm, EdgeCases) {
  const auto f = parse_form("a=1&&b=&c&a=2&=x");
  ASSERT_TRUE(f);
  ASSERT_EQ(f->size(), 5u);
  EXPECT_EQ(form_value(*f, "a"), "1"); // the first wins
  EXPECT_EQ(form_value(*f, "b"), "");
  EXPECT_EQ(form_value(*f, "c"), "");
  EXPECT_EQ(form_value(*f, ""), "x");
  EXPECT_TRUE(parse_form("")->empty());
  EXPECT_FALSE(parse_form("a=%zz"));
  EXPECT_FALSE(parse_form("a=1&b=2&c=3", 2)); // over max_fields
}

} // namespace
} // namespace thingport::api
