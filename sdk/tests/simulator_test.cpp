#include "simulator.hpp"

#include <gtest/gtest.h>

namespace thingport::device::sim {
namespace {

TEST(TripletCsv, HeaderCommentsBlanksAndSpaces) {
  std::string err;
  auto t = parse_triplets_csv("productKey,deviceName,deviceSecret\n# a comment\n\n"
                              "pk1, dev1 ,s1\r\npk1,dev2,s2",
                              err);
  ASSERT_TRUE(t) << err;
  ASSERT_EQ(t->size(), 2U);
  EXPECT_EQ((*t)[0].product_key, "pk1");
  EXPECT_EQ((*t)[0].device_name, "dev1");
  EXPECT_EQ((*t)[0].device_secret, "s1");
  EXPECT_EQ((*t)[1].device_name, "dev2");
}

TEST(TripletCsv, BadLineIsNamed) {
  std::string err;
  EXPECT_FALSE(parse_triplets_csv("pk,dn,ds\npk,dn\n", err));
  EXPECT_EQ(err, "line 2: want productKey,deviceName,deviceSecret");
  EXPECT_FALSE(parse_triplets_csv("pk,,ds\n", err));
  EXPECT_FALSE(parse_triplets_csv("a,b,c,d\n", err));
}

TEST(BatchJson, TheApiAnswerWithTheProductKeyGivenApart) {
  std::string err;
  auto t = parse_batch_json(
      R"({"devices":[{"deviceName":"d1","deviceSecret":"s1"},{"deviceName":"d2","deviceSecret":"s2","productKey":"other"}]})",
      "pk", err);
  ASSERT_TRUE(t) << err;
  ASSERT_EQ(t->size(), 2U);
  EXPECT_EQ((*t)[0].product_key, "pk");
  EXPECT_EQ((*t)[0].device_secret, "s1");
  EXPECT_EQ((*t)[1].product_key, "other");
  EXPECT_FALSE(parse_batch_json(R"({"devices":[{"deviceName":"d1"}]})", "pk", err));
  EXPECT_EQ(err, "device 0: want deviceName, deviceSecret and a productKey");
  EXPECT_FALSE(parse_batch_json(R"({"devices":[{"deviceName":"d","deviceSecret":"s"}]})", "", err));
  EXPECT_FALSE(parse_batch_json("[]", "pk", err));
}

TEST(Walk, SpecsAndBounds) {
  auto w = parse_walk("temperature=25:0.5:20:30");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->name, "temperature");
  std::mt19937_64 rng(42);
  for (int i = 0; i < 2000; ++i) {
    const double before = w->value;
    const double v = w->next(rng);
    EXPECT_GE(v, 20);
    EXPECT_LE(v, 30);
    EXPECT_LE(std::abs(v - before), 0.5 + 0.006);
  }
  auto plain = parse_walk("h=50");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->step, 1);
  for (const char* bad : {"", "=1", "x", "x=", "x=a", "x=1:2:3", "x=1:1:5:2"}) {
    EXPECT_FALSE(parse_walk(bad)) << bad;
  }
}

} // namespace
} // namespace thingport::device::sim
