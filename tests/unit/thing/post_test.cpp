// Property and event posts: the platform's rule (drop what fails, keep the rest, reply 200),
// times, limits, and the messages forwarded to applications.
#include "thing/post.hpp"

#include <gtest/gtest.h>

#include "sample_tsl.hpp"
#include "thing/code.hpp"
#include "thing/forward.hpp"

namespace thingport::thing::test {

namespace {

const time_point now = from_ms(1'700'000'000'000);

boost::json::value json_of(std::string_view text) {
  auto v = parse_json(text);
  EXPECT_TRUE(v) << text;
  return v ? *v : boost::json::value{};
}

class Post : public ::testing::Test {
protected:
  std::shared_ptr<const thing_model> model_ = sample_model();
};

} // namespace

TEST_F(Post, PlainAndTimedValues) {
  const post_result r = check_property_post(
      model_.get(),
      json_of(R"({"Counter":{"value":5,"time":1524448722000},"Temperature":23.6,"Mode":1})"), now);
  ASSERT_FALSE(r.ec);
  ASSERT_EQ(r.properties.size(), 3U);
  EXPECT_EQ(r.properties[0].identifier, "Counter");
  EXPECT_EQ(to_json(r.properties[0].value), "5");
  EXPECT_EQ(r.properties[0].time, from_ms(1524448722000));
  EXPECT_EQ(r.properties[1].time, now); // no time: server time
  EXPECT_EQ(to_json(r.properties[1].value), "23.6");
  EXPECT_TRUE(r.failed.empty());
}

TEST_F(Post, FailingValuesAreDroppedTheRestKept) {
  const post_result r = check_property_post(model_.get(), json_of(R"({
      "Counter": 100000, "Temperature": 500, "Humidity": 101, "Label": "far too long",
      "Mode": 3, "LightSwitch": 2, "Installed": "yesterday", "Position": {"x": 1, "z": 2},
      "Samples": [1,2,3,4], "Nope": 1, "Points": [{"a": 0.5}]})"),
                                            now);
  ASSERT_FALSE(r.ec);
  ASSERT_EQ(r.properties.size(), 1U);
  EXPECT_EQ(r.properties[0].identifier, "Points");
  std::map<std::string, int> codes;
  for (const failed_item& f : r.failed) {
    codes[f.identifier] = f.code;
  }
  EXPECT_EQ(codes, (std::map<std::string, int>{{"Counter", 6306},
                                               {"Temperature", 6307},
                                               {"Humidity", 6322},
                                               {"Label", 6310},
                                               {"Mode", 6309},
                                               {"LightSwitch", 6308},
                                               {"Installed", 6311},
                                               {"Position", 6304},
                                               {"Samples", 6324},
                                               {"Nope", 6304}}));
  EXPECT_EQ(r.failed.back().message, "tsl parse: params not exist -> Nope");
}

TEST_F(Post, WithoutAThingModelEverythingIsTaken) {
  const post_result r = check_property_post(
      nullptr,
      json_of(R"({"Anything":{"deep":[1,2]},"x":"y","bad-id":1,"t":{"value":1,"time":"5"}})"), now);
  ASSERT_FALSE(r.ec);
  ASSERT_EQ(r.properties.size(), 3U);
  EXPECT_EQ(to_json(r.properties[0].value), R"({"deep":[1,2]})");
  EXPECT_EQ(r.properties[2].time, from_ms(5)); // a string of digits is a time too
  ASSERT_EQ(r.failed.size(), 1U);
  EXPECT_EQ(r.failed[0].identifier, "bad-id");
  EXPECT_EQ(r.failed[0].code, 460);
}

TEST_F(Post, BadTimesFailTheValue) {
  const post_result r = check_property_post(
      model_.get(), json_of(R"({"Counter":{"value":1,"time":-1},"Mode":{"value":1,"time":"x"},
                                "LightSwitch":{"value":1,"time":null}})"),
      now);
  ASSERT_EQ(r.failed.size(), 2U);
  EXPECT_EQ(r.failed[0].code, 460);
  EXPECT_EQ(r.failed[0].message, "time must be UTC milliseconds -> Counter");
  ASSERT_EQ(r.properties.size(), 1U);
  EXPECT_EQ(r.properties[0].time, now);
}

TEST_F(Post, WholeRequestRefusals) {
  EXPECT_EQ(check_property_post(model_.get(), json_of("{}"), now).ec,
            make_error_code(code::bad_params));
  EXPECT_EQ(check_property_post(model_.get(), json_of("[1]"), now).ec,
            make_error_code(code::bad_params));
  EXPECT_EQ(check_property_post(model_.get(), boost::json::value{}, now).ec,
            make_error_code(code::bad_params));
  boost::json::object many;
  for (int i = 0; i < 201; ++i) {
    many["p" + std::to_string(i)] = i;
  }
  const post_result r = check_property_post(nullptr, many, now);
  EXPECT_EQ(r.ec, make_error_code(code::too_many_properties));
  EXPECT_TRUE(r.properties.empty());
  many.erase("p0");
  EXPECT_FALSE(check_property_post(nullptr, many, now).ec); // 200 is fine
}

TEST_F(Post, Events) {
  post_result r = check_event_post(
      model_.get(), "HardwareError",
      json_of(R"({"value":{"ErrorCode":1,"time":5,"extra":2},"time":1524448722000})"), now);
  ASSERT_FALSE(r.ec);
  ASSERT_EQ(r.events.size(), 1U);
  const event_item& e = r.events[0];
  EXPECT_EQ(e.type, "error");
  EXPECT_EQ(e.name, "Hardware error");
  EXPECT_EQ(e.time, from_ms(1524448722000));
  EXPECT_EQ(to_json(e.output), R"({"ErrorCode":1,"time":5})");
  ASSERT_EQ(e.failed.size(), 1U);
  EXPECT_EQ(e.failed[0].code, 6304);

  r = check_event_post(model_.get(), "HardwareError", json_of(R"({"value":{"ErrorCode":7}})"), now);
  ASSERT_EQ(r.events.size(), 1U);
  EXPECT_EQ(r.events[0].time, now);
  EXPECT_EQ(r.events[0].failed[0].code, 6309);

  EXPECT_EQ(check_event_post(model_.get(), "Unknown", json_of(R"({"value":{}})"), now).ec,
            make_error_code(code::not_defined));
  // The C and Node SDKs' form: the output fields directly, timed on arrival.
  r = check_event_post(model_.get(), "HardwareError", json_of(R"({"ErrorCode":1})"), now);
  ASSERT_FALSE(r.ec);
  ASSERT_EQ(r.events.size(), 1U);
  EXPECT_EQ(r.events[0].output.at("ErrorCode"), boost::json::value(1));
  EXPECT_EQ(r.events[0].time, now);
  // Neither form: refused whole.
  EXPECT_EQ(check_event_post(model_.get(), "HardwareError", json_of(R"({"value":[1]})"), now).ec,
            make_error_code(code::bad_params));
  EXPECT_EQ(check_event_post(model_.get(), "HardwareError", json_of(R"([1])"), now).ec,
            make_error_code(code::bad_params));
  EXPECT_EQ(check_event_post(model_.get(), "HardwareError", json_of(R"("x")"), now).ec,
            make_error_code(code::bad_params));
  // Without a thing model: any event, any output.
  r = check_event_post(nullptr, "Any", json_of(R"({"value":{"a":[1]}})"), now);
  ASSERT_EQ(r.events.size(), 1U);
  EXPECT_EQ(r.events[0].type, "");
}

TEST_F(Post, Batch) {
  const post_result r = check_batch_post(model_.get(), json_of(R"({
      "properties": {"Counter": [{"value":1,"time":10},{"value":2,"time":20},{"value":-5,"time":30}],
                     "Mode": [{"value":5,"time":10}]},
      "events": {"HardwareError": [{"value":{"ErrorCode":0},"time":15}],
                 "Missing": [{"value":{},"time":16}]}})"),
                                         now);
  ASSERT_FALSE(r.ec);
  ASSERT_EQ(r.properties.size(), 3U);
  EXPECT_EQ(r.properties[1].time, from_ms(20));
  ASSERT_EQ(r.events.size(), 1U);
  ASSERT_EQ(r.failed.size(), 2U);
  EXPECT_EQ(r.failed[0].identifier, "Counter");
  EXPECT_EQ(r.failed[1].identifier, "Missing");
  EXPECT_EQ(r.failed[1].code, 6320);

  EXPECT_EQ(check_batch_post(model_.get(), json_of(R"({"properties":{"Counter":1}})"), now).ec,
            make_error_code(code::bad_params));
  EXPECT_EQ(check_batch_post(model_.get(), json_of(R"({"properties":{}})"), now).ec,
            make_error_code(code::bad_params));
  post_limits small;
  small.max_batch_values = 2;
  EXPECT_EQ(check_batch_post(
                model_.get(),
                json_of(R"({"properties":{"Counter":[{"value":1},{"value":2},{"value":3}]}})"), now,
                small)
                .ec,
            make_error_code(code::too_many_properties));
}

TEST_F(Post, History) {
  const auto params = json_of(R"([
      {"identity":{"productKey":"pk","deviceName":"dn"},
       "properties":[{"Counter":{"value":1,"time":100}},{"Counter":{"value":2,"time":200}}],
       "events":[{"HardwareError":{"value":{"ErrorCode":1},"time":150}}]},
      {"identity":{"productKey":"pk","deviceName":"other"},
       "properties":[{"Counter":{"value":3,"time":300}}]}])");
  const post_result r = check_history_post(model_.get(), "pk", "dn", params, now);
  ASSERT_FALSE(r.ec);
  ASSERT_EQ(r.properties.size(), 2U); // the other identity's value is skipped
  EXPECT_EQ(r.properties[1].time, from_ms(200));
  ASSERT_EQ(r.events.size(), 1U);
  EXPECT_EQ(check_history_post(model_.get(), "pk", "nobody", params, now).ec,
            make_error_code(code::bad_params));
  EXPECT_EQ(check_history_post(model_.get(), "pk", "dn", json_of(R"([{"properties":[]}])"), now).ec,
            make_error_code(code::bad_params));
}

TEST_F(Post, ForwardedMessages) {
  const post_result r = check_property_post(
      model_.get(), json_of(R"({"Counter":{"value":5,"time":1000},"Mode":9})"), now);
  const forward_context ctx{
      .product_key = "pk", .device_name = "dn", .request_id = "123", .now = from_ms(2000)};
  EXPECT_EQ(property_post_forward(ctx, r),
            R"({"productKey":"pk","deviceName":"dn","requestId":"123","gmtCreate":2000,)"
            R"("items":{"Counter":{"value":5,"time":1000}},)"
            R"("checkFailedData":{"Mode":{"value":9,"time":1700000000000,"code":6309,)"
            R"("message":"tsl parse: enum value 9 not in specs -> Mode"}}})");

  const post_result b = check_batch_post(
      nullptr, json_of(R"({"properties":{"a":[{"value":1,"time":1},{"value":2,"time":2}]}})"), now);
  EXPECT_EQ(property_batch_forward(ctx, b),
            R"({"productKey":"pk","deviceName":"dn","requestId":"123","gmtCreate":2000,)"
            R"("items":{"a":[{"value":1,"time":1},{"value":2,"time":2}]},"checkFailedData":{}})");

  const post_result e = check_event_post(model_.get(), "HardwareError",
                                         json_of(R"({"value":{"ErrorCode":1},"time":5})"), now);
  EXPECT_EQ(event_forward(ctx, e.events[0]),
            R"({"identifier":"HardwareError","name":"Hardware error","type":"error","time":5,)"
            R"("value":{"ErrorCode":1},"productKey":"pk","deviceName":"dn","requestId":"123",)"
            R"("gmtCreate":2000,"checkFailedData":{}})");
}

// A name longer than the 64 bytes a failure keeps is cut at a character boundary: the message
// forwarded to applications must stay valid UTF-8, so valid JSON.
TEST_F(Post, ALongNameIsCutBetweenCharacters) {
  const std::string key = std::string(63, 'a') + "\xC3\xA9"; // 63 bytes, then a 2-byte character
  const post_result r = check_property_post(model_.get(), json_of("{\"" + key + "\":1}"), now);
  ASSERT_EQ(r.failed.size(), 1U);
  EXPECT_EQ(r.failed[0].identifier, std::string(63, 'a'));
  EXPECT_TRUE(r.failed[0].message.ends_with("-> " + std::string(63, 'a'))) << r.failed[0].message;
  EXPECT_TRUE(parse_json(to_json(boost::json::value(r.failed[0].message))));
}

TEST(ClipUtf8, KeepsWholeCharacters) {
  EXPECT_EQ(clip_utf8("abc", 64), "abc");
  EXPECT_EQ(clip_utf8("abc", 2), "ab");
  EXPECT_EQ(clip_utf8("a\xC3\xA9", 2), "a");         // 2-byte character split: dropped
  EXPECT_EQ(clip_utf8("a\xC3\xA9", 3), "a\xC3\xA9"); // whole
  EXPECT_EQ(clip_utf8("\xF0\x9F\x98\x80z", 3), "");  // 4-byte character split at any byte
  EXPECT_EQ(clip_utf8("\xF0\x9F\x98\x80z", 4), "\xF0\x9F\x98\x80");
  EXPECT_EQ(clip_utf8("", 0), "");
}

} // namespace thingport::thing::test
