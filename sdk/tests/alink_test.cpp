#include <gtest/gtest.h>

#include "thingport/device/thing.hpp"

namespace thingport::device {
namespace {

TEST(AlinkReply, StringAndNumericIds) {
  auto r = parse_alink_reply(
      R"({"id":"123","code":200,"data":{},"message":"success","method":"thing.event.property.post","version":"1.0"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, "123");
  EXPECT_EQ(r->code, 200);
  EXPECT_EQ(r->message, "success");
  EXPECT_EQ(r->method, "thing.event.property.post");
  EXPECT_TRUE(r->data.is_object());
  r = parse_alink_reply(R"({"id":77,"code":6304,"data":{}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, "77");
  EXPECT_EQ(r->code, 6304);
}

TEST(AlinkReply, NotAReply) {
  for (const char* bad : {"", "[]", "nonsense", R"({"id":"1"})", R"({"code":200})",
                          R"({"id":{},"code":200})", R"({"id":"1","code":"200"})"}) {
    EXPECT_FALSE(parse_alink_reply(bad)) << bad;
  }
}

TEST(Ntp, OffsetIsTheMeanOfBothLegs) {
  // device clock 1000 ms behind the server, 20 ms each way
  EXPECT_EQ(ntp_offset(10'000, 11'020, 11'021, 10'041).count(), 1000);
  EXPECT_EQ(ntp_offset(5'000, 5'010, 5'010, 5'020).count(), 0);
  EXPECT_EQ(ntp_offset(5'000, 4'010, 4'010, 5'020).count(), -1000);
}

} // namespace
} // namespace thingport::device
