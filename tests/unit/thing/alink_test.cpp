// Alink envelopes: requests as devices send them, replies exactly as the platform shapes them.
#include "thing/alink.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace thingport::thing::test {

TEST(Alink, RequestWithEverything) {
  const request_result r = parse_request(
      R"({"id":"123","version":"1.0","sys":{"ack":1},"params":{"a":1},"method":"thing.event.property.post"})",
      "thing.event.property.post");
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.value.id, boost::json::value("123"));
  EXPECT_EQ(r.value.version, "1.0");
  EXPECT_EQ(r.value.method, "thing.event.property.post");
  EXPECT_TRUE(r.value.ack);
  EXPECT_EQ(to_json(r.value.params), R"({"a":1})");
}

TEST(Alink, LinkSdk4RequestWithoutMethodAndNoAck) {
  const request_result r = parse_request(
      R"({"id":"7","version":"1.0","sys":{"ack":0},"params":{}})", "thing.event.property.post");
  ASSERT_FALSE(r.ec);
  EXPECT_EQ(r.value.method, "thing.event.property.post");
  EXPECT_FALSE(r.value.ack);
}

TEST(Alink, RepliesEchoTheIdAsSent) {
  for (const char* id : {R"("123")", "123", "18446744073709551615", R"("abc")", R"("")"}) {
    const std::string payload = std::string(R"({"id":)") + id + R"(,"params":{}})";
    const request_result r = parse_request(payload, "thing.event.property.post");
    ASSERT_FALSE(r.ec) << payload;
    EXPECT_EQ(
        make_reply(r.value, {}, boost::json::object{}),
        std::string(R"({"id":)") + id +
            R"(,"code":200,"data":{},"message":"success","method":"thing.event.property.post","version":"1.0"})");
  }
}

TEST(Alink, ReplyKeepsTheRequestsMethodAndVersion) {
  const request_result r = parse_request(
      R"({"id":"1","version":"2.0","method":"thing.event.property.post","params":{}})",
      "thing.event.property.batch.post");
  EXPECT_EQ(
      make_reply(r.value, make_error_code(code::too_many_properties), boost::json::object{}),
      R"({"id":"1","code":6106,"data":{},"message":"too many properties: at most 200 in one request","method":"thing.event.property.post","version":"2.0"})");
  EXPECT_EQ(
      make_reply(r.value, make_error_code(code::bad_params), {1, 2}, "custom"),
      R"({"id":"1","code":460,"data":[1,2],"message":"custom","method":"thing.event.property.post","version":"2.0"})");
}

TEST(Alink, BadRequests) {
  // Not JSON: 6207; the topic's method is still known for the reply.
  request_result r = parse_request("{\"id\":\"1\",", "thing.event.property.post");
  EXPECT_EQ(r.ec, make_error_code(code::not_json));
  EXPECT_TRUE(r.value.id.is_null());
  EXPECT_EQ(r.value.method, "thing.event.property.post");
  EXPECT_EQ(parse_request("\xff\xfe", "m").ec, make_error_code(code::not_json));
  EXPECT_EQ(parse_request("", "m").ec, make_error_code(code::not_json));
  // A number no double holds (the fuzzer's find): refused, never written back as infinity.
  EXPECT_EQ(parse_request(R"({"id":"1","params":{"a":{"b":[1e999]}}})", "m").ec,
            make_error_code(code::not_json));
  EXPECT_EQ(to_json(boost::json::value(HUGE_VAL)), "null");
  // JSON of the wrong shape: 460.
  EXPECT_EQ(parse_request("[1,2]", "m").ec, make_error_code(code::bad_params));
  EXPECT_EQ(parse_request("\"x\"", "m").ec, make_error_code(code::bad_params));
  EXPECT_EQ(parse_request(R"({"params":{}})", "m").ec, make_error_code(code::bad_params));
  EXPECT_EQ(parse_request(R"({"id":1.5,"params":{}})", "m").ec, make_error_code(code::bad_params));
  EXPECT_EQ(parse_request(R"({"id":{},"params":{}})", "m").ec, make_error_code(code::bad_params));
  // No method and none from the topic: 6300.
  r = parse_request(R"({"id":"1","params":{}})", "");
  EXPECT_EQ(r.ec, make_error_code(code::method_not_found));
  EXPECT_EQ(
      make_reply(r.value, r.ec, boost::json::object{}),
      R"({"id":"1","code":6300,"data":{},"message":"method not found","method":"","version":"1.0"})");
  // Too deep: refused as not JSON, without deep recursion.
  EXPECT_EQ(parse_request(std::string(10 * 1024 * 1024, '['), "m", {.max_bytes = 20 << 20}).ec,
            make_error_code(code::not_json));
  EXPECT_EQ(parse_request(std::string(300 * 1024, ' ') + "{}", "m").ec,
            make_error_code(code::not_json));
}

TEST(Alink, DownlinkRequest) {
  EXPECT_EQ(
      make_request("42", "thing.service.property.set", boost::json::object{{"a", 1}}),
      R"({"id":"42","version":"1.0","params":{"a":1},"method":"thing.service.property.set"})");
}

TEST(Alink, DeviceReplies) {
  auto r = parse_device_reply(R"({"id":"42","code":200,"data":{"ok":1},"message":"success"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, "42");
  EXPECT_EQ(r->code, 200);
  EXPECT_EQ(to_json(r->data), R"({"ok":1})");
  r = parse_device_reply(R"({"id":42,"code":"x"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, "42");
  EXPECT_EQ(r->code, 0);
  EXPECT_TRUE(r->data.is_null());
  EXPECT_EQ(parse_device_reply(R"({"code":200})").error(), make_error_code(code::bad_params));
  EXPECT_EQ(parse_device_reply("nope").error(), make_error_code(code::not_json));
}

TEST(Alink, Codes) {
  EXPECT_EQ(to_int({}), 200);
  EXPECT_EQ(to_int(make_error_code(code::bad_int)), 6306);
  EXPECT_EQ(to_int(std::make_error_code(std::errc::io_error)), 400);
  EXPECT_STREQ(error_category().name(), "thingport.thing");
  EXPECT_EQ(make_error_code(code::not_json).message(), "request data is not JSON");
}

} // namespace thingport::thing::test
