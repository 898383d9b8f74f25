// What the platform sends down: property sets, service calls (async and over RRPC), RRPC.
#include "thing/downlink.hpp"

#include <gtest/gtest.h>

#include <string>

#include "sample_tsl.hpp"
#include "thing/code.hpp"
#include "thing/json.hpp"

namespace thingport::thing::test {

namespace {

boost::json::value json_of(std::string_view text) {
  return *parse_json(text);
}

const device_id dev{.product_key = "pk", .device_name = "dn"};

} // namespace

TEST(Downlink, PropertySet) {
  auto m = sample_model();
  downlink_result r =
      property_set(m.get(), dev, "1001", json_of(R"({"Counter":5,"LightSwitch":true})"));
  ASSERT_TRUE(r) << r.message;
  EXPECT_EQ(r.value.topic, "/sys/pk/dn/thing/service/property/set");
  EXPECT_EQ(
      r.value.payload,
      R"({"id":"1001","version":"1.0","params":{"Counter":5,"LightSwitch":1},"method":"thing.service.property.set"})");
  EXPECT_EQ(r.value.method, "thing.service.property.set");
  EXPECT_FALSE(r.value.sync);

  r = property_set(m.get(), dev, "1", json_of(R"({"Nope":1})"));
  EXPECT_EQ(r.ec, make_error_code(code::not_defined));
  EXPECT_EQ(r.message, "tsl parse: property not exist -> Nope");
  r = property_set(m.get(), dev, "1", json_of(R"({"Temperature":1})"));
  EXPECT_EQ(r.ec, make_error_code(code::bad_params));
  EXPECT_EQ(r.message, "property is read-only -> Temperature");
  r = property_set(m.get(), dev, "1", json_of(R"({"Counter":-1})"));
  EXPECT_EQ(r.ec, make_error_code(code::bad_int));
  EXPECT_EQ(property_set(m.get(), dev, "1", json_of("{}")).ec, make_error_code(code::bad_params));
  EXPECT_EQ(property_set(m.get(), dev, "1", json_of("[1]")).ec, make_error_code(code::bad_params));
  EXPECT_EQ(property_set(m.get(), dev, "", json_of(R"({"Counter":1})")).ec,
            make_error_code(code::bad_params));
  EXPECT_EQ(property_set(m.get(), dev, "a/b", json_of(R"({"Counter":1})")).ec,
            make_error_code(code::bad_params));
  // No thing model: as given.
  r = property_set(nullptr, dev, "2", json_of(R"({"x":{"any":[1]}})"));
  ASSERT_TRUE(r);
  EXPECT_EQ(
      r.value.payload,
      R"({"id":"2","version":"1.0","params":{"x":{"any":[1]}},"method":"thing.service.property.set"})");
  EXPECT_EQ(property_set(nullptr, dev, "2", json_of(R"({"a b":1})")).ec,
            make_error_code(code::bad_params));
}

TEST(Downlink, Services) {
  auto m = sample_model();
  downlink_result r = service_call(m.get(), dev, "7", "Calibrate", json_of("{}"));
  ASSERT_TRUE(r) << r.message;
  EXPECT_EQ(r.value.topic, "/sys/pk/dn/thing/service/Calibrate");
  EXPECT_EQ(r.value.payload,
            R"({"id":"7","version":"1.0","params":{},"method":"thing.service.Calibrate"})");
  EXPECT_FALSE(r.value.sync);

  // A sync service goes as RRPC with the same Alink payload.
  r = service_call(m.get(), dev, "8", "Reboot", json_of(R"({"delay":5})"));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r.value.sync);
  EXPECT_EQ(r.value.topic, "/sys/pk/dn/rrpc/request/8");
  EXPECT_EQ(r.value.payload,
            R"({"id":"8","version":"1.0","params":{"delay":5},"method":"thing.service.Reboot"})");

  EXPECT_EQ(service_call(m.get(), dev, "8", "Reboot", json_of(R"({"delay":61})")).ec,
            make_error_code(code::bad_int));
  EXPECT_EQ(service_call(m.get(), dev, "8", "Reboot", json_of(R"({"other":1})")).ec,
            make_error_code(code::param_not_in_model));
  EXPECT_EQ(service_call(m.get(), dev, "8", "Fly", json_of("{}")).ec,
            make_error_code(code::not_defined));
  EXPECT_EQ(service_call(m.get(), dev, "8", "set", json_of("{}")).ec,
            make_error_code(code::bad_params));
  EXPECT_EQ(service_call(m.get(), dev, "8", "Reboot", json_of("5")).ec,
            make_error_code(code::bad_params));
  r = service_call(nullptr, dev, "9", "Anything", json_of(R"({"a":1})"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value.topic, "/sys/pk/dn/thing/service/Anything");
}

TEST(Downlink, SyncServiceForExtDevicesAndPropertyGet) {
  auto m = sample_model();
  downlink_result r = service_call(m.get(), dev, "8", "Reboot", json_of(R"({"delay":5})"), true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value.topic, "/ext/rrpc/8/sys/pk/dn/thing/service/Reboot");
  r = property_get(m.get(), dev, "9", {"Counter", "LightSwitch"});
  ASSERT_TRUE(r) << r.message;
  EXPECT_TRUE(r.value.sync);
  EXPECT_EQ(r.value.topic, "/sys/pk/dn/rrpc/request/9");
  EXPECT_EQ(
      r.value.payload,
      R"({"id":"9","version":"1.0","params":["Counter","LightSwitch"],"method":"thing.service.property.get"})");
  r = property_get(m.get(), dev, "9", {"Counter"}, true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value.topic, "/ext/rrpc/9/sys/pk/dn/thing/service/property/get");
  EXPECT_EQ(property_get(m.get(), dev, "9", {}).ec, make_error_code(code::bad_params));
  EXPECT_EQ(property_get(m.get(), dev, "9", {"Nope"}).ec, make_error_code(code::not_defined));
  EXPECT_EQ(property_get(m.get(), dev, "9", {"a/b"}).ec, make_error_code(code::bad_params));
  EXPECT_TRUE(property_get(nullptr, dev, "9", {"Anything"}));
}

TEST(Downlink, Rrpc) {
  downlink_result r = rrpc_request(dev, "1067456658214756352", "\x01\x02 raw");
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value.topic, "/sys/pk/dn/rrpc/request/1067456658214756352");
  EXPECT_EQ(r.value.payload, "\x01\x02 raw");
  EXPECT_TRUE(r.value.sync);
  EXPECT_EQ(rrpc_request(dev, "a+b", "x").ec, make_error_code(code::bad_params));

  r = ext_rrpc_request(dev, "55", "/pk/dn/user/cmd", "on");
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value.topic, "/ext/rrpc/55/pk/dn/user/cmd");
  EXPECT_EQ(ext_rrpc_request(dev, "55", "/pk/other/user/cmd", "on").ec,
            make_error_code(code::bad_params));
  EXPECT_EQ(ext_rrpc_request(dev, "55", "/pk/dn/", "on").ec, make_error_code(code::bad_params));
  EXPECT_EQ(ext_rrpc_request(dev, "55", "/pk/dn/user/#", "on").ec,
            make_error_code(code::bad_params));
  EXPECT_EQ(ext_rrpc_request(dev, "55", "/pk/dn/user/+/x", "on").ec,
            make_error_code(code::bad_params));
  EXPECT_EQ(ext_rrpc_request(dev, "55", std::string_view("/pk/dn/us\0er", 12), "on").ec,
            make_error_code(code::bad_params));
  // At most 128 bytes of topic.
  const std::string at_limit = "/pk/dn/" + std::string(128 - 7, 'a');
  EXPECT_TRUE(ext_rrpc_request(dev, "55", at_limit, "on"));
  EXPECT_EQ(ext_rrpc_request(dev, "55", at_limit + "a", "on").ec,
            make_error_code(code::bad_params));
}

} // namespace thingport::thing::test
