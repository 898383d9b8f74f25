// The OTA wire messages and the signed download links (platform/ota_message.hpp, ota_token.hpp).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "auth/sign.hpp"
#include "platform/ota_message.hpp"
#include "platform/ota_token.hpp"

namespace thingport::platform {
namespace {

namespace json = boost::json;

upgrade_info sample() {
  return {.version = "2.0.1",
          .module = "MCU",
          .size = 123456,
          .md5 = std::string(32, 'a'),
          .sha256 = std::string(64, 'b'),
          .url = "http://h:1/ota/firmware/x?sign=1"};
}

TEST(OtaMessage, UpgradeAsTheSdksReadIt) {
  const auto v = json::parse(upgrade_message(sample(), 42)).as_object();
  EXPECT_EQ(v.at("code"), "1000");
  EXPECT_EQ(v.at("message"), "success");
  EXPECT_EQ(v.at("id"), 42);
  const auto& d = v.at("data").as_object();
  EXPECT_EQ(d.at("size"), 123456);
  EXPECT_EQ(d.at("version"), "2.0.1");
  EXPECT_EQ(d.at("module"), "MCU");
  EXPECT_EQ(d.at("md5").as_string(), std::string(32, 'a'));
  EXPECT_EQ(d.at("signMethod"), "SHA256");
  EXPECT_EQ(d.at("sign").as_string(), std::string(64, 'b'));
  EXPECT_EQ(d.at("isDiff"), 0);
  EXPECT_EQ(d.at("url"), "http://h:1/ota/firmware/x?sign=1");
}

TEST(OtaMessage, FirmwareGetReplyEchoesTheId) {
  auto v = json::parse(firmware_get_reply(sample(), "\"17\"")).as_object();
  EXPECT_EQ(v.at("id"), "17");
  EXPECT_EQ(v.at("code"), 200);
  EXPECT_EQ(v.at("data").at("version"), "2.0.1");
  v = json::parse(firmware_get_reply(std::nullopt, "17")).as_object();
  EXPECT_EQ(v.at("id"), 17);
  EXPECT_TRUE(v.at("data").as_object().empty());
}

TEST(OtaMessage, ProgressStepsAsStringsOrNumbers) {
  auto p = parse_progress(R"({"id":1,"params":{"step":"-2","desc":"download failed"}})");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->step, -2);
  EXPECT_EQ(p->desc, "download failed");
  EXPECT_TRUE(p->module.empty());
  p = parse_progress(R"({"id":"1","params":{"step":55,"module":"MCU"}})");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->step, 55);
  EXPECT_EQ(p->module, "MCU");
  for (const char* bad : {"", "x", "[]", R"({"params":{}})", R"({"params":{"step":"5x"}})",
                          R"({"params":{"step":101}})", R"({"params":{"step":"-1001"}})",
                          R"({"params":{"step":true}})", R"({"params":"step"})"})
    EXPECT_FALSE(parse_progress(bad)) << bad;
}

TEST(OtaMessage, Requests) {
  auto r = parse_firmware_request(R"({"id":"9","params":{"module":"MCU"}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->module, "MCU");
  EXPECT_EQ(r->id_json, "\"9\"");
  r = parse_firmware_request(R"({"id":3,"params":{"version":"1.0"}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->module, "default");
  EXPECT_EQ(r->id_json, "3");
  EXPECT_FALSE(parse_firmware_request("nope"));
}

TEST(OtaMessage, VersionAndModuleNames) {
  EXPECT_TRUE(valid_firmware_version("1.0.0-rc1 build 7"));
  EXPECT_FALSE(valid_firmware_version(""));
  EXPECT_FALSE(valid_firmware_version(std::string(65, 'v')));
  EXPECT_FALSE(valid_firmware_version(std::string("a\0b", 3)));
  EXPECT_TRUE(valid_module_name("MCU_2-a"));
  for (const char* bad : {"", "../x", "a b", "a/b", "é"})
    EXPECT_FALSE(valid_module_name(bad)) << bad;
}

TEST(OtaToken, SignedForOneFirmwareDeviceAndTime) {
  const download_signer s(std::string(64, 'k'));
  const std::string id(32, 'f');
  const auto t = s.sign(id, "pk", "dev1", 1000);
  // HMAC-SHA256 over id, pk, dn and expires, one per line
  EXPECT_EQ(t, auth::hmac_hex(auth::sign_method::hmacsha256, std::string(64, 'k'),
                              id + "\npk\ndev1\n1000"));
  EXPECT_EQ(s.check(id, "pk", "dev1", 1000, t, 999), link_check::ok);
  EXPECT_EQ(s.check(id, "pk", "dev1", 1000, t, 1000), link_check::ok);
  EXPECT_EQ(s.check(id, "pk", "dev1", 1000, t, 1001), link_check::expired);
  EXPECT_EQ(s.check(id, "pk", "dev2", 1000, t, 0), link_check::forged);
  EXPECT_EQ(s.check(id, "pk", "dev1", 2000, t, 0), link_check::forged); // expiry moved
  EXPECT_EQ(s.check(std::string(32, 'e'), "pk", "dev1", 1000, t, 0), link_check::forged);
  EXPECT_EQ(s.check(id, "pk", "dev1", 1000, "", 0), link_check::forged);
  EXPECT_EQ(download_signer(std::string(64, 'x')).check(id, "pk", "dev1", 1000, t, 0),
            link_check::forged);
  EXPECT_EQ(download_path(s, id, "pk", "d@v:1", 1000),
            "/ota/firmware/" + id + "?productKey=pk&deviceName=d%40v%3A1&expires=1000&sign=" +
                s.sign(id, "pk", "d@v:1", 1000));
}

} // namespace
} // namespace thingport::platform
