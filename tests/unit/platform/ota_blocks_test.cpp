// MQTT block download messages (platform/ota_blocks.hpp) and the upgrade message of an MQTT job.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "platform/ota_blocks.hpp"
#include "platform/ota_message.hpp"
#include "thing/file_block.hpp"

namespace thingport::platform {
namespace {

namespace json = boost::json;

TEST(OtaBlocks, Crc16IbmOfTheCheckString) {
  EXPECT_EQ(thing::crc16_arc("123456789"), 0xBB3D); // CRC-16/ARC's check value
  EXPECT_EQ(thing::crc16_arc(""), 0);
}

TEST(OtaBlocks, ParsesTheSdkRequestWithItsTrailingComma) {
  auto r = parse_block_request(
      R"({"id":"7","version":"1.0","params":{"fileToken":"default","fileInfo":{"streamId":1234,)"
      R"("fileId":1,},"fileBlock":{"size":5120,"offset":10240}}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id_json, "\"7\"");
  EXPECT_EQ(r->file_token, "default");
  EXPECT_EQ(r->stream_id, 1234U);
  EXPECT_EQ(r->file_id, 1U);
  EXPECT_EQ(r->size, 5120U);
  EXPECT_EQ(r->offset, 10240U);
  // decimal strings too; no fileToken: "default"
  r = parse_block_request(R"({"id":3,"params":{"fileInfo":{"streamId":"9","fileId":"1"},)"
                          R"("fileBlock":{"size":"16","offset":"0"}}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id_json, "3");
  EXPECT_EQ(r->stream_id, 9U);
  EXPECT_EQ(r->file_token, "default");
}

TEST(OtaBlocks, RefusesMalformedRequests) {
  for (const char* bad : {
           "",
           "{",
           "[]",
           R"({"params":{}})",
           R"({"params":{"fileInfo":{"fileId":1},"fileBlock":{"size":1,"offset":0}}})",
           R"({"params":{"fileInfo":{"streamId":1},"fileBlock":{"size":-1,"offset":0}}})",
           R"({"params":{"fileInfo":{"streamId":1},"fileBlock":{"size":1}}})",
           R"({"params":{"fileInfo":{"streamId":"x"},"fileBlock":{"size":1,"offset":0}}})",
       })
    EXPECT_FALSE(parse_block_request(bad)) << bad;
  EXPECT_FALSE(parse_block_request(std::string(5000, ' ') + "{}"));
}

TEST(OtaBlocks, ReplyIsFramedAsTheSdkReadsIt) {
  block_request r;
  r.id_json = "\"5\"";
  r.offset = 100;
  const std::string block = "123456789";
  const auto out = block_reply(r, 1000, block);
  const std::size_t n =
      (static_cast<unsigned char>(out[0]) << 8) | static_cast<unsigned char>(out[1]);
  ASSERT_EQ(out.size(), 2 + n + block.size() + 2);
  const auto h = json::parse(out.substr(2, n)).as_object();
  EXPECT_EQ(h.at("id"), "5");
  EXPECT_EQ(h.at("code"), 200);
  const auto& d = h.at("data").as_object();
  EXPECT_EQ(d.at("bSize"), 9);
  EXPECT_EQ(d.at("bOffset"), 100);
  EXPECT_EQ(d.at("fileLength"), 1000);
  EXPECT_EQ(d.at("fileToken"), "default");
  EXPECT_EQ(out.substr(2 + n, block.size()), block);
  EXPECT_EQ(static_cast<unsigned char>(out[out.size() - 2]), 0x3D); // low byte first
  EXPECT_EQ(static_cast<unsigned char>(out[out.size() - 1]), 0xBB);

  const auto err = block_error("\"5\"", 404, "no such stream");
  const std::size_t en =
      (static_cast<unsigned char>(err[0]) << 8) | static_cast<unsigned char>(err[1]);
  ASSERT_EQ(err.size(), 2 + en);
  EXPECT_EQ(json::parse(err.substr(2)).as_object().at("code"), 404);
}

TEST(OtaBlocks, StreamIdsAreSmallAndNeverZero) {
  EXPECT_EQ(stream_id_of("0000000fffffffffffffffffffffffff"), 1U);
  EXPECT_EQ(stream_id_of("fffffffaaaaaaaaaaaaaaaaaaaaaaaaa"), 0x10000000U);
  EXPECT_EQ(stream_id_of("zz"), 1U);
}

TEST(OtaBlocks, AnMqttUpgradeMessageNamesTheStreamNotAUrl) {
  upgrade_info u{.version = "2",
                 .module = "default",
                 .size = 10,
                 .md5 = "m",
                 .sha256 = "s",
                 .url = "",
                 .stream_id = 77};
  const auto d = json::parse(upgrade_message(u, 1)).as_object().at("data").as_object();
  EXPECT_EQ(d.at("dProtocol"), "mqtt");
  EXPECT_EQ(d.at("streamId"), 77);
  EXPECT_EQ(d.at("streamFileId"), 1);
  EXPECT_FALSE(d.contains("url"));
}

} // namespace
} // namespace thingport::platform
