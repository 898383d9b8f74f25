// NTP answers in the device's own JSON types; the device shadow's update / get / delete,
// versions and error codes.
#include <gtest/gtest.h>

#include "thing/code.hpp"
#include "thing/ntp.hpp"
#include "thing/shadow.hpp"

namespace thingport::thing::test {

namespace {

const time_point t1 = from_ms(1'469'564'492'000);
const time_point t2 = from_ms(1'469'564'576'500);

// The errorcode of a failure reply, "" for success.
std::string error_code_of(const shadow_outcome& o) {
  auto doc = parse_json(o.reply);
  const boost::json::value* content = member(*member(*doc, "payload"), "content");
  return content == nullptr ? "" : std::string(member(*content, "errorcode")->get_string());
}

} // namespace

TEST(Ntp, KeepsTheDevicesTypes) {
  auto r = ntp_response(R"({"deviceSendTime":"1571724098000"})", from_ms(1571724098110),
                        from_ms(1571724098115));
  ASSERT_TRUE(r);
  EXPECT_EQ(
      *r,
      R"({"deviceSendTime":"1571724098000","serverRecvTime":"1571724098110","serverSendTime":"1571724098115"})");
  r = ntp_response(R"({"deviceSendTime":1571724098000})", from_ms(1), from_ms(2));
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, R"({"deviceSendTime":1571724098000,"serverRecvTime":1,"serverSendTime":2})");
  EXPECT_EQ(ntp_response("{}", t1, t1).error(), make_error_code(code::bad_params));
  EXPECT_EQ(ntp_response(R"({"deviceSendTime":1.5})", t1, t1).error(),
            make_error_code(code::bad_params));
  EXPECT_EQ(ntp_response("nope", t1, t1).error(), make_error_code(code::not_json));
}

TEST(Shadow, DeviceReportsThenGets) {
  const shadow empty;
  shadow_outcome o =
      empty.apply(R"({"method":"update","state":{"reported":{"color":"red"}},"version":1})", t1);
  ASSERT_EQ(o.code, 200);
  EXPECT_EQ(
      o.reply,
      R"({"method":"reply","payload":{"status":"success","version":1},"timestamp":1469564492})");
  ASSERT_TRUE(o.updated);
  EXPECT_EQ(
      o.updated->to_json(),
      R"({"state":{"reported":{"color":"red"}},"metadata":{"reported":{"color":{"timestamp":1469564492}}},"timestamp":1469564492,"version":1})");

  // What the store gives back is the same shadow.
  auto stored = shadow::from_json(o.updated->to_json());
  ASSERT_TRUE(stored);
  EXPECT_EQ(*stored, *o.updated);

  o = stored->apply(R"({"method":"get"})", t2);
  EXPECT_EQ(o.code, 200);
  EXPECT_FALSE(o.updated);
  EXPECT_EQ(
      o.reply,
      R"({"method":"reply","payload":{"status":"success","state":{"reported":{"color":"red"}},"metadata":{"reported":{"color":{"timestamp":1469564492}}}},"version":1,"timestamp":1469564576})");
}

TEST(Shadow, DesiredFromTheCloudThenClearedByTheDevice) {
  shadow s =
      *shadow{}
           .apply(R"({"method":"update","state":{"reported":{"color":"red"}},"version":1})", t1)
           .updated;
  shadow_outcome o = s.set_desired({{"color", "green"}}, t2);
  ASSERT_EQ(o.code, 200);
  EXPECT_EQ(o.updated->version(), 2);
  EXPECT_EQ(
      o.reply,
      R"({"method":"control","payload":{"status":"success","state":{"reported":{"color":"red"},"desired":{"color":"green"}},"metadata":{"reported":{"color":{"timestamp":1469564492}},"desired":{"color":{"timestamp":1469564576}}}},"version":2,"timestamp":1469564576})");
  s = *o.updated;
  o = s.apply(
      R"({"method":"update","state":{"reported":{"color":"green"},"desired":"null"},"version":3})",
      t2);
  ASSERT_EQ(o.code, 200);
  EXPECT_TRUE(o.updated->desired().empty());
  EXPECT_EQ(o.updated->reported().at("color"), "green");
  EXPECT_EQ(o.updated->version(), 3);
}

TEST(Shadow, VersionMustGrow) {
  const shadow s =
      *shadow{}
           .apply(R"({"method":"update","state":{"reported":{"a":1}},"version":5})", t1)
           .updated;
  for (const char* v : {"5", "4", "-1", "0"}) {
    const shadow_outcome o = s.apply(
        std::string(R"({"method":"update","state":{"reported":{"a":2}},"version":)") + v + "}", t2);
    EXPECT_EQ(o.code, 409) << v;
    EXPECT_FALSE(o.updated);
    EXPECT_EQ(
        o.reply,
        R"({"method":"reply","payload":{"status":"error","content":{"errorcode":"409","errormessage":"Version conflict."}},"timestamp":1469564576})");
  }
  // [ours] No version: the shadow's + 1.
  const shadow_outcome o = s.apply(R"({"method":"update","state":{"reported":{"a":2}}})", t2);
  ASSERT_EQ(o.code, 200);
  EXPECT_EQ(o.updated->version(), 6);
}

TEST(Shadow, Delete) {
  const shadow s =
      *shadow{}
           .apply(
               R"({"method":"update","state":{"reported":{"color":"red","t":20,"h":3}},"version":1})",
               t1)
           .updated;
  shadow_outcome o = s.apply(
      R"({"method":"delete","state":{"reported":{"color":"null","t":"null","h":4}},"version":2})",
      t2);
  ASSERT_EQ(o.code, 200);
  EXPECT_EQ(o.updated->reported(), (boost::json::object{{"h", 3}}));
  o = s.apply(R"({"method":"delete","state":{"reported":"null"},"version":2})", t2);
  ASSERT_EQ(o.code, 200);
  EXPECT_TRUE(o.updated->reported().empty());
  EXPECT_EQ(o.updated->to_json(),
            R"({"state":{},"metadata":{},"timestamp":1469564576,"version":2})");
}

TEST(Shadow, ErrorCodes) {
  const shadow s;
  struct row {
    std::string_view request;
    int code;
  };
  const row rows[] = {
      {"not json", 400},
      {"[1]", 400},
      {"", 407},
      {"  ", 407},
      {"{}", 407},
      {R"({"state":{}})", 401},
      {R"({"method":5})", 401},
      {R"({"method":"update","version":1})", 402},
      {R"({"method":"update","state":"x","version":1})", 402},
      {R"({"method":"update","state":{"reported":{"a":1}},"version":"2"})", 403},
      {R"({"method":"update","state":{"reported":{"a":1}},"version":1.5})", 403},
      {R"({"method":"update","state":{},"version":1})", 404},
      {R"({"method":"update","state":{"reported":{}},"version":1})", 405},
      {R"({"method":"update","state":{"reported":5},"version":1})", 400},
      {R"({"method":"patch","state":{"reported":{"a":1}},"version":1})", 406},
  };
  for (const row& r : rows) {
    const shadow_outcome o = s.apply(r.request, t1);
    EXPECT_EQ(o.code, r.code) << r.request;
    EXPECT_EQ(error_code_of(o), std::to_string(r.code)) << r.request;
    EXPECT_FALSE(o.updated) << r.request;
  }
  // 129 attributes: 408.
  std::string many = R"({"method":"update","state":{"reported":{)";
  for (int i = 0; i < 129; ++i) {
    many += (i == 0 ? "" : ",") + std::string("\"a") + std::to_string(i) + "\":1";
  }
  many += "}},\"version\":1}";
  EXPECT_EQ(s.apply(many, t1).code, 408);
  // Over 16 KB: 400.
  const std::string big = R"({"method":"update","state":{"reported":{"a":")" +
                          std::string(17 * 1024, 'x') + R"("}},"version":1})";
  EXPECT_EQ(s.apply(big, t1).code, 400);
  EXPECT_EQ(error_code_of({.code = 500, .reply = shadow::error_reply(500, t1), .updated = {}}),
            "500");
  EXPECT_FALSE(shadow::from_json("[]"));
  EXPECT_FALSE(shadow::from_json("garbage"));
}

} // namespace thingport::thing::test
