// The block download's wire format, device side (sdk/src/file_blocks.hpp): the request as the
// server reads it, and the reply's framing checked (length header, JSON, block, CRC).
#include "../src/file_blocks.hpp"
#include "thing/file_block.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace thingport::device::detail {
namespace {

std::string frame(const std::string& header, const std::string& block, int crc_delta = 0) {
  std::string out;
  out += static_cast<char>(header.size() >> 8);
  out += static_cast<char>(header.size() & 0xff);
  out += header + block;
  if (!block.empty()) {
    const auto crc = static_cast<std::uint16_t>(thing::crc16_arc(block) + crc_delta);
    out += static_cast<char>(crc & 0xff);
    out += static_cast<char>(crc >> 8);
  }
  return out;
}

TEST(FileBlocks, Crc16IsArc) {
  EXPECT_EQ(thing::crc16_arc("123456789"), 0xBB3D); // the catalogue's check value of CRC-16/ARC
  EXPECT_EQ(thing::crc16_arc(""), 0);
}

TEST(FileBlocks, TheRequestHasTheFieldsTheServerReads) {
  const auto v = boost::json::parse(block_request("5", "default", 77, 1, 10240, 5120));
  const auto& o = v.as_object();
  EXPECT_EQ(o.at("id").as_string(), "5");
  const auto& p = o.at("params").as_object();
  EXPECT_EQ(p.at("fileToken").as_string(), "default");
  const auto& info = p.at("fileInfo").as_object();
  const auto& block = p.at("fileBlock").as_object();
  EXPECT_EQ(info.at("streamId").to_number<std::uint64_t>(), 77u);
  EXPECT_EQ(info.at("fileId").to_number<std::uint64_t>(), 1u);
  EXPECT_EQ(block.at("offset").to_number<std::uint64_t>(), 10240u);
  EXPECT_EQ(block.at("size").to_number<std::uint64_t>(), 5120u);
}

TEST(FileBlocks, AGoodReplyAndAnError) {
  const std::string h = R"({"id":"5","code":200,"msg":"success","data":{"fileToken":"default",)"
                        R"("fileLength":100,"bSize":4,"bOffset":"8"}})";
  const auto payload = frame(h, "abcd"); // the block is a view into it
  auto r = parse_block_reply(payload);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, "5");
  EXPECT_EQ(r->code, 200);
  EXPECT_EQ(r->file_length, 100u);
  EXPECT_EQ(r->offset, 8u);
  EXPECT_EQ(r->block, "abcd");
  auto e = parse_block_reply(frame(R"({"id":"6","code":404,"msg":"no stream"})", ""));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, 404);
  EXPECT_TRUE(e->block.empty());
}

TEST(FileBlocks, DamagedRepliesAreRefused) {
  const std::string h = R"({"id":"5","code":200,"data":{"fileToken":"default",)"
                        R"("fileLength":100,"bSize":4,"bOffset":8}})";
  EXPECT_FALSE(parse_block_reply(""));
  EXPECT_FALSE(parse_block_reply(std::string("\0", 1)));
  EXPECT_FALSE(parse_block_reply(frame(h, "abcd", 1)));            // CRC
  EXPECT_FALSE(parse_block_reply(frame(h, "abcde")));              // bSize vs the bytes
  EXPECT_FALSE(parse_block_reply(frame(h, "abcd").substr(0, 20))); // cut in the header
  EXPECT_FALSE(parse_block_reply(frame(h, "abcd") + "x"));         // trailing bytes
  EXPECT_FALSE(parse_block_reply(frame("not json", "abcd")));
  EXPECT_FALSE(parse_block_reply(frame(R"({"id":"6","code":404})", "") + "xy"));
  EXPECT_FALSE(parse_block_reply(frame(R"({"id":"5","code":200,"data":{"fileLength":1,)"
                                       R"("bSize":0,"bOffset":0}})",
                                       "")));
  std::string huge(5000, ' ');
  EXPECT_FALSE(parse_block_reply(frame("{" + huge + "}", "abcd"))); // header over 4 KiB
}

} // namespace
} // namespace thingport::device::detail
