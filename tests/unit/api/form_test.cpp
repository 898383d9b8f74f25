#include "api/form.hpp"

#include <gtest/gtest.h>

namespace thingport::api {
namespace {

TEST(ApiForm, PercentDecode) {
  EXPECT_EQ(percent_decode("a%2Fb%40c", false), "a/b@c");
  EXPECT_EQ(percent_decode("a+b", false), "a+b");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("%e4%B8%ad", false), "\xe4\xb8\xad");
  EXPECT_EQ(percent_decode("", true), "");
  for (const char* bad : {"%", "%4", "a%zz", "%g0", "abc%"})
    EXPECT_FALSE(percent_decode(bad, true).has_value()) << bad;
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
