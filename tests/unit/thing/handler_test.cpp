// The entry point end to end: topic and payload in, actions out, for every topic kind, and the
// bad inputs of the issue (non-JSON, wrong shapes, deep nesting, unknown methods).
#include "thing/handler.hpp"

#include <gtest/gtest.h>

#include "sample_tsl.hpp"
#include "thing/code.hpp"

namespace thingport::thing::test {

namespace {

const time_point now = from_ms(1'700'000'000'000);

class fake_state final : public device_state {
public:
  result<std::vector<desired_value>> desired(std::span<const std::string> ids) override {
    ++calls;
    if (fail) {
      return make_error_code(code::server_error);
    }
    asked.assign(ids.begin(), ids.end());
    return values;
  }
  result<shadow> current_shadow() override {
    ++calls;
    if (fail) {
      return make_error_code(code::server_error);
    }
    return stored;
  }

  bool fail = false;
  int calls = 0;
  std::vector<std::string> asked;
  std::vector<desired_value> values;
  shadow stored;
};

class Handler : public ::testing::Test {
protected:
  handler_result run(std::string_view topic, std::string_view payload, bool with_model = true) {
    return handle({.topic = topic, .payload = payload, .device = {"pk", "dn"}, .now = now},
                  with_model ? model_.get() : nullptr, state_);
  }

  template <typename A> static std::vector<A> all(const handler_result& r) {
    std::vector<A> out;
    for (const action& a : r.actions) {
      if (const A* x = std::get_if<A>(&a)) {
        out.push_back(*x);
      }
    }
    return out;
  }

  // The only publish to the device.
  static publish_action published(const handler_result& r) {
    const auto p = all<publish_action>(r);
    EXPECT_EQ(p.size(), 1U);
    return p.empty() ? publish_action{} : p.front();
  }

  std::shared_ptr<const thing_model> model_ = sample_model();
  fake_state state_;
};

constexpr std::string_view post_topic = "/sys/pk/dn/thing/event/property/post";

} // namespace

TEST_F(Handler, PropertyPostStoresRepliesAndForwards) {
  const handler_result r = run(post_topic, R"({"id":"123","version":"1.0","params":{
      "Counter":{"value":5,"time":1524448722000},"Mode":9},"method":"thing.event.property.post"})");
  EXPECT_FALSE(r.ec);
  EXPECT_EQ(r.kind, topic_kind::property_post);
  ASSERT_EQ(r.actions.size(), 3U);
  // Store first, then the reply, then the forward.
  const auto& store = std::get<store_properties_action>(r.actions[0]);
  ASSERT_EQ(store.items.size(), 1U);
  EXPECT_EQ(
      store.items[0],
      (stored_property{.identifier = "Counter", .value = "5", .time = from_ms(1524448722000)}));
  const auto& reply = std::get<publish_action>(r.actions[1]);
  EXPECT_EQ(reply.topic, "/sys/pk/dn/thing/event/property/post_reply");
  EXPECT_EQ(
      reply.payload,
      R"({"id":"123","code":200,"data":{},"message":"success","method":"thing.event.property.post","version":"1.0"})");
  const auto& fwd = std::get<forward_action>(r.actions[2]);
  EXPECT_EQ(fwd.topic, "/pk/dn/thing/event/property/post");
  EXPECT_NE(fwd.payload.find(R"("checkFailedData":{"Mode":{"value":9,)"), std::string::npos);
  ASSERT_TRUE(r.failure_reply);
  EXPECT_EQ(r.failure_reply->topic, reply.topic);
  EXPECT_NE(r.failure_reply->payload.find(R"("code":500)"), std::string::npos);
  EXPECT_EQ(state_.calls, 0);
}

TEST_F(Handler, LinkSdk4PostWithoutMethodAndWithoutAck) {
  handler_result r =
      run(post_topic, R"({"id":42,"version":"1.0","sys":{"ack":0},"params":{"Counter":1}})");
  EXPECT_FALSE(r.ec);
  EXPECT_TRUE(all<publish_action>(r).empty()); // ack 0: no reply
  EXPECT_FALSE(r.failure_reply);
  EXPECT_EQ(all<store_properties_action>(r).size(), 1U);
  r = run(post_topic, R"({"id":42,"version":"1.0","sys":{"ack":1},"params":{"Counter":1}})");
  EXPECT_EQ(
      published(r).payload,
      R"({"id":42,"code":200,"data":{},"message":"success","method":"thing.event.property.post","version":"1.0"})");
}

TEST_F(Handler, AllValuesFailingStillReplies200AndStoresNothing) {
  const handler_result r = run(post_topic, R"({"id":"1","params":{"Counter":-1}})");
  EXPECT_TRUE(all<store_properties_action>(r).empty());
  EXPECT_FALSE(r.failure_reply);
  EXPECT_NE(published(r).payload.find(R"("code":200)"), std::string::npos);
  EXPECT_EQ(all<forward_action>(r).size(), 1U);
}

TEST_F(Handler, BadInputs) {
  struct row {
    std::string_view topic;
    std::string payload;
    int code;
  };
  const row rows[] = {
      {post_topic, "not json at all", 6207},
      {post_topic, "\x00\x01\x02", 6207},
      {post_topic, std::string(300 * 1024, ' ') + "{}", 6207},
      {post_topic, std::string(10 * 1024 * 1024, '['), 6207},
      {post_topic, std::string(100, '[') + std::string(100, ']'), 6207},
      {post_topic, R"([{"id":"1"}])", 460},
      {post_topic, R"({"id":"1"})", 460},
      {post_topic, R"({"id":"1","params":[]})", 460},
      {post_topic, R"({"id":"1","params":{}})", 460},
      {post_topic, R"({"id":true,"params":{"Counter":1}})", 460},
      {"/sys/pk/dn/thing/event/property/batch/post", R"({"id":"1","params":{"properties":[]}})",
       460},
      {"/sys/pk/dn/thing/event/HardwareError/post", R"({"id":"1","params":[1]})", 460},
      {"/sys/pk/dn/thing/event/Nope/post", R"({"id":"1","params":{"value":{}}})", 6320},
      {"/sys/pk/dn/thing/deviceinfo/update", R"({"id":"1","params":{"attrKey":"a"}})", 460},
      {"/sys/pk/dn/thing/deviceinfo/update",
       R"({"id":"1","params":[{"attrKey":"1a","attrValue":"x"}]})", 460},
      {"/sys/pk/dn/thing/property/desired/get", R"({"id":"1","params":{"a":1}})", 460},
      {"/sys/pk/dn/thing/property/desired/delete", R"({"id":"1","params":["a"]})", 460},
      {"/sys/pk/dn/thing/unknown/thing", R"({"id":"1","params":{}})", 6300},
      {"/sys/pk/dn/thing/event/property/pack/post", R"({"id":"1","params":{}})", 6300},
  };
  for (const row& r : rows) {
    const handler_result h = run(r.topic, r.payload);
    EXPECT_EQ(to_int(h.ec), r.code) << r.topic << " " << r.payload.substr(0, 60);
    // Answered with the code, nothing stored or forwarded.
    ASSERT_EQ(h.actions.size(), 1U) << r.topic << " " << r.payload.substr(0, 60);
    const publish_action p = published(h);
    EXPECT_EQ(p.topic, std::string(r.topic) + "_reply");
    EXPECT_NE(p.payload.find("\"code\":" + std::to_string(r.code)), std::string::npos) << p.payload;
    EXPECT_FALSE(h.failure_reply);
  }
  // Over 200 properties: 6106, nothing kept.
  std::string many = R"({"id":"1","params":{)";
  for (int i = 0; i < 201; ++i) {
    many += (i == 0 ? "" : ",") + std::string("\"p") + std::to_string(i) + "\":1";
  }
  many += "}}";
  const handler_result h = run(post_topic, many, false);
  EXPECT_EQ(to_int(h.ec), 6106);
  EXPECT_EQ(h.actions.size(), 1U);
}

TEST_F(Handler, TopicsOfOtherDevicesAndRepliesAreNeverServed) {
  handler_result r =
      run("/sys/pk/other/thing/event/property/post", R"({"id":"1","params":{"a":1}})");
  EXPECT_EQ(r.ec, make_error_code(code::bad_request));
  EXPECT_TRUE(r.actions.empty());
  r = run("/sys/pk/dn/thing/event/property/post_reply", R"({"id":"1","code":200})");
  EXPECT_EQ(r.kind, topic_kind::unknown_reply);
  EXPECT_TRUE(r.actions.empty());
  r = run("/pk/dn/user/update", "hello");
  EXPECT_EQ(r.kind, topic_kind::not_thing);
  EXPECT_TRUE(r.actions.empty());
}

TEST_F(Handler, EventPost) {
  const handler_result r = run("/sys/pk/dn/thing/event/HardwareError/post",
                               R"({"id":"5","params":{"value":{"ErrorCode":1},"time":99}})");
  EXPECT_FALSE(r.ec);
  const auto stored = all<store_events_action>(r);
  ASSERT_EQ(stored.size(), 1U);
  EXPECT_EQ(stored[0].items[0], (stored_event{.identifier = "HardwareError",
                                              .type = "error",
                                              .output = R"({"ErrorCode":1})",
                                              .time = from_ms(99)}));
  EXPECT_EQ(
      published(r).payload,
      R"({"id":"5","code":200,"data":{},"message":"success","method":"thing.event.HardwareError.post","version":"1.0"})");
  const auto fwd = all<forward_action>(r);
  ASSERT_EQ(fwd.size(), 1U);
  EXPECT_EQ(fwd[0].topic, "/pk/dn/thing/event/HardwareError/post");
}

TEST_F(Handler, BatchAndHistory) {
  handler_result r = run("/sys/pk/dn/thing/event/property/batch/post", R"({"id":"1","params":{
      "properties":{"Counter":[{"value":1,"time":1},{"value":2,"time":2}]},
      "events":{"HardwareError":[{"value":{"ErrorCode":0},"time":3}]}}})");
  EXPECT_FALSE(r.ec);
  EXPECT_EQ(all<store_properties_action>(r)[0].items.size(), 2U);
  EXPECT_EQ(all<store_events_action>(r)[0].items.size(), 1U);
  const auto fwd = all<forward_action>(r);
  ASSERT_EQ(fwd.size(), 2U);
  EXPECT_EQ(fwd[0].topic, "/pk/dn/thing/event/property/batch/post");
  EXPECT_EQ(fwd[1].topic, "/pk/dn/thing/event/HardwareError/post");

  r = run("/sys/pk/dn/thing/event/property/history/post", R"({"id":"2","params":[
      {"identity":{"productKey":"pk","deviceName":"dn"},"properties":[{"Counter":{"value":3,"time":7}}]}]})");
  EXPECT_FALSE(r.ec);
  EXPECT_EQ(all<store_properties_action>(r)[0].items[0].time, from_ms(7));
  EXPECT_EQ(all<forward_action>(r)[0].topic, "/pk/dn/thing/event/property/history/post");
}

TEST_F(Handler, DesiredGetAndDelete) {
  state_.values = {{.identifier = "Counter", .value = "5", .version = 3},
                   {.identifier = "Broken", .value = "{", .version = 1}};
  handler_result r =
      run("/sys/pk/dn/thing/property/desired/get", R"({"id":"1","params":["Counter","Broken"]})");
  EXPECT_EQ(state_.asked, (std::vector<std::string>{"Broken", "Counter"}));
  EXPECT_EQ(
      published(r).payload,
      R"({"id":"1","code":200,"data":{"Counter":{"value":5,"version":3}},"message":"success","method":"thing.property.desired.get","version":"1.0"})");

  state_.fail = true;
  r = run("/sys/pk/dn/thing/property/desired/get", R"({"id":"1","params":[]})");
  EXPECT_NE(published(r).payload.find(R"("code":500)"), std::string::npos);

  r = run("/sys/pk/dn/thing/property/desired/delete",
          R"({"id":"2","params":{"Counter":{"version":3},"Mode":{}}})");
  const auto del = all<delete_desired_action>(r);
  ASSERT_EQ(del.size(), 1U);
  EXPECT_EQ(del[0].items, (std::vector<desired_delete>{{"Counter", 3}, {"Mode", std::nullopt}}));
  EXPECT_TRUE(r.failure_reply);
}

TEST_F(Handler, DeviceInfo) {
  handler_result r = run("/sys/pk/dn/thing/deviceinfo/update", R"({"id":"1","params":[
      {"attrKey":"Temperature","attrValue":"36.8"},{"attrKey":"Floor","attrValue":3}]})");
  const auto set = all<set_attributes_action>(r);
  ASSERT_EQ(set.size(), 1U);
  EXPECT_EQ(set[0].items, (std::vector<attribute>{{"Temperature", "36.8"}, {"Floor", "3"}}));
  EXPECT_NE(published(r).payload.find(R"("method":"thing.deviceinfo.update")"), std::string::npos);
  r = run("/sys/pk/dn/thing/deviceinfo/delete", R"({"id":"1","params":[{"attrKey":"Floor"}]})");
  ASSERT_EQ(all<delete_attributes_action>(r).size(), 1U);
  EXPECT_EQ(all<delete_attributes_action>(r)[0].keys, (std::vector<std::string>{"Floor"}));
}

TEST_F(Handler, DslTemplate) {
  handler_result r = run("/sys/pk/dn/thing/dsltemplate/get", R"({"id":"1","params":{}})");
  const std::string payload = published(r).payload;
  EXPECT_NE(payload.find(R"("data":{"schema":)"), std::string::npos);
  EXPECT_NE(payload.find(R"("identifier":"Counter")"), std::string::npos);
  r = run("/sys/pk/dn/thing/dsltemplate/get", R"({"id":"1"})", false);
  EXPECT_NE(published(r).payload.find(R"("code":200,"data":{})"), std::string::npos);
}

TEST_F(Handler, DeviceRepliesCompleteDownlinks) {
  handler_result r =
      run("/sys/pk/dn/thing/service/property/set_reply", R"({"id":"1001","code":200,"data":{}})");
  auto done = all<complete_downlink_action>(r);
  ASSERT_EQ(done.size(), 1U);
  EXPECT_EQ(done[0].kind, downlink_kind::property_set);
  EXPECT_EQ(done[0].id, "1001");
  EXPECT_EQ(done[0].code, 200);
  EXPECT_EQ(r.actions.size(), 1U); // never a reply to a reply

  r = run("/sys/pk/dn/thing/service/Reboot_reply", R"({"id":7,"code":9201,"data":{"ok":1}})");
  done = all<complete_downlink_action>(r);
  ASSERT_EQ(done.size(), 1U);
  EXPECT_EQ(done[0].kind, downlink_kind::service);
  EXPECT_EQ(done[0].identifier, "Reboot");
  EXPECT_EQ(done[0].code, 9201);
  EXPECT_EQ(done[0].reply, R"({"ok":1})");

  r = run("/sys/pk/dn/thing/service/Reboot_reply", "garbage");
  EXPECT_EQ(r.ec, make_error_code(code::not_json));
  EXPECT_TRUE(r.actions.empty());

  r = run("/sys/pk/dn/rrpc/response/77", "\x01raw bytes");
  done = all<complete_downlink_action>(r);
  ASSERT_EQ(done.size(), 1U);
  EXPECT_EQ(done[0].kind, downlink_kind::rrpc);
  EXPECT_EQ(done[0].id, "77");
  EXPECT_EQ(done[0].reply, "\x01raw bytes");

  r = run("/ext/rrpc/78/pk/dn/user/cmd", "ok");
  done = all<complete_downlink_action>(r);
  ASSERT_EQ(done.size(), 1U);
  EXPECT_EQ(done[0].identifier, "/pk/dn/user/cmd");
  r = run("/ext/rrpc/78/pk/other/user/cmd", "ok");
  EXPECT_TRUE(r.actions.empty());
}

TEST_F(Handler, Ntp) {
  handler_result r = run("/ext/ntp/pk/dn/request", R"({"deviceSendTime":"1571724098000"})");
  const publish_action p = published(r);
  EXPECT_EQ(p.topic, "/ext/ntp/pk/dn/response");
  EXPECT_EQ(
      p.payload,
      R"({"deviceSendTime":"1571724098000","serverRecvTime":"1700000000000","serverSendTime":"1700000000000"})");
  r = run("/ext/ntp/pk/dn/request", "{}");
  EXPECT_TRUE(r.actions.empty());
  EXPECT_EQ(r.ec, make_error_code(code::bad_params));
}

TEST_F(Handler, Shadow) {
  handler_result r = run("/shadow/update/pk/dn",
                         R"({"method":"update","state":{"reported":{"color":"red"}},"version":1})");
  ASSERT_EQ(r.actions.size(), 2U);
  const auto& store = std::get<store_shadow_action>(r.actions[0]);
  EXPECT_EQ(store.version, 1);
  EXPECT_EQ(store.expected_version, 0);
  const auto& reply = std::get<publish_action>(r.actions[1]);
  EXPECT_EQ(reply.topic, "/shadow/get/pk/dn");
  EXPECT_EQ(
      reply.payload,
      R"({"method":"reply","payload":{"status":"success","version":1},"timestamp":1700000000})");
  ASSERT_TRUE(r.failure_reply);
  EXPECT_NE(r.failure_reply->payload.find(R"("errorcode":"500")"), std::string::npos);

  state_.stored = *shadow::from_json(store.document);
  r = run("/shadow/update/pk/dn",
          R"({"method":"update","state":{"reported":{"color":"blue"}},"version":1})");
  EXPECT_EQ(r.actions.size(), 1U);
  EXPECT_NE(published(r).payload.find(R"("errorcode":"409")"), std::string::npos);
  r = run("/shadow/update/pk/dn", R"({"method":"get"})");
  EXPECT_NE(published(r).payload.find(R"("color":"red")"), std::string::npos);

  state_.fail = true;
  r = run("/shadow/update/pk/dn", R"({"method":"get"})");
  EXPECT_NE(published(r).payload.find(R"("errorcode":"500")"), std::string::npos);
}

TEST_F(Handler, OtaInform) {
  handler_result r =
      run("/ota/device/inform/pk/dn", R"({"id":123,"params":{"version":"1.0.1","module":"MCU"}})");
  auto v = all<ota_version_action>(r);
  ASSERT_EQ(v.size(), 1U);
  EXPECT_EQ(v[0].value, (ota_version{"MCU", "1.0.1"}));
  r = run("/ota/device/inform/pk/dn", R"({"id":123,"params":{"version":"2.0"}})");
  EXPECT_EQ(all<ota_version_action>(r)[0].value.module, "default");
  r = run("/ota/device/inform/pk/dn", R"({"id":123,"params":{}})");
  EXPECT_TRUE(r.actions.empty());
  EXPECT_EQ(r.ec, make_error_code(code::bad_params));
}

} // namespace thingport::thing::test
