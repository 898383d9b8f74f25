// Values against data types: what passes (normalised), what fails with which code and message.
#include "thing/value_check.hpp"

#include <gtest/gtest.h>

#include "sample_tsl.hpp"
#include "thing/json.hpp"

namespace thingport::thing::test {

namespace {

class ValueCheck : public ::testing::Test {
protected:
  check_result check(std::string_view id, std::string_view json_value) {
    const thing::property* p = model_->find_property(id);
    EXPECT_NE(p, nullptr) << id;
    auto v = parse_json(json_value);
    EXPECT_TRUE(v) << json_value;
    return check_value(p->spec, *v, id);
  }
  // The code of a refused value; 200 when accepted.
  int code_of(std::string_view property, std::string_view json_value) {
    return to_int(check(property, json_value).ec);
  }
  std::string accepted(std::string_view property, std::string_view json_value) {
    const check_result r = check(property, json_value);
    EXPECT_TRUE(r) << property << " " << json_value << ": " << r.message;
    return to_json(r.value);
  }

  std::shared_ptr<const thing_model> model_ = sample_model();
};

} // namespace

TEST_F(ValueCheck, Int) {
  EXPECT_EQ(accepted("Counter", "0"), "0");
  EXPECT_EQ(accepted("Counter", "99999"), "99999");
  EXPECT_EQ(accepted("Counter", "12.0"), "12"); // an integral double is an int
  EXPECT_EQ(code_of("Counter", "100000"), 6306);
  EXPECT_EQ(code_of("Counter", "-1"), 6306);
  EXPECT_EQ(code_of("Counter", "1.5"), 6306);
  EXPECT_EQ(code_of("Counter", "\"15\""), 6306); // the platform's own example
  EXPECT_EQ(code_of("Counter", "true"), 6306);
  EXPECT_EQ(code_of("Counter", "18446744073709551615"), 6306);
  EXPECT_EQ(check("Counter", "\"15\"").message, "tsl parse: data type is not int -> Counter");
  EXPECT_EQ(check("Counter", "100000").message,
            "tsl parse: int value is bigger than max 99999 -> Counter");
  EXPECT_EQ(check("Counter", "-1").message,
            "tsl parse: int value is smaller than min 0 -> Counter");
}

TEST_F(ValueCheck, FloatAndDouble) {
  EXPECT_EQ(accepted("Temperature", "23.6"), "23.6"); // as sent, not 2.36E1
  EXPECT_EQ(accepted("Temperature", "-40"), "-40");
  EXPECT_EQ(code_of("Temperature", "120.5"), 6307);
  EXPECT_EQ(code_of("Temperature", "\"23.6\""), 6307);
  EXPECT_EQ(code_of("Humidity", "100.01"), 6322);
  EXPECT_EQ(code_of("Humidity", "null"), 6322);
  EXPECT_EQ(accepted("Humidity", "0"), "0");
  EXPECT_EQ(check("Humidity", "101").message,
            "tsl parse: double value is bigger than max 100 -> Humidity");
}

TEST_F(ValueCheck, TextDateBoolEnum) {
  EXPECT_EQ(accepted("Label", "\"12345678\""), "\"12345678\"");
  EXPECT_EQ(code_of("Label", "\"123456789\""), 6310); // bytes, not characters
  EXPECT_EQ(code_of("Label", "\"温度计\""), 6310);    // 9 bytes
  EXPECT_EQ(code_of("Label", "0"), 6310);
  EXPECT_EQ(check("Label", "0").message, "tsl parse: data type is not string -> Label");

  EXPECT_EQ(accepted("Installed", "\"1635839462000\""), "\"1635839462000\"");
  EXPECT_EQ(accepted("Installed", "1635839462000"), "1635839462000");
  EXPECT_EQ(code_of("Installed", "\"2021-11-02\""), 6311);
  EXPECT_EQ(code_of("Installed", "\"-5\""), 6311);
  EXPECT_EQ(code_of("Installed", "1.5"), 6311);

  EXPECT_EQ(accepted("LightSwitch", "1"), "1");
  EXPECT_EQ(accepted("LightSwitch", "0"), "0");
  EXPECT_EQ(accepted("LightSwitch", "true"), "1");
  EXPECT_EQ(accepted("LightSwitch", "false"), "0");
  EXPECT_EQ(code_of("LightSwitch", "2"), 6308);
  EXPECT_EQ(code_of("LightSwitch", "\"1\""), 6308);

  EXPECT_EQ(accepted("Mode", "5"), "5");
  EXPECT_EQ(code_of("Mode", "2"), 6309);
  EXPECT_EQ(code_of("Mode", "\"1\""), 6309);
  EXPECT_EQ(check("Mode", "2").message, "tsl parse: enum value 2 not in specs -> Mode");
}

TEST_F(ValueCheck, StructAndArray) {
  EXPECT_EQ(accepted("Position", R"({"x":3,"label":"ab"})"), R"({"x":3,"label":"ab"})");
  EXPECT_EQ(accepted("Position", R"({"x":3})"), R"({"x":3})"); // members may be left out
  EXPECT_EQ(code_of("Position", "[1]"), 6312);
  // A failing member reports its own code and path.
  check_result r = check("Position", R"({"x":11})");
  EXPECT_EQ(to_int(r.ec), 6306);
  EXPECT_EQ(r.message, "tsl parse: int value is bigger than max 10 -> Position.x");
  r = check("Position", R"({"y":1})");
  EXPECT_EQ(to_int(r.ec), 6304);
  EXPECT_EQ(r.message, "tsl parse: params not exist -> Position.y");
  EXPECT_EQ(code_of("Position", R"({"label":"toolong"})"), 6310);

  EXPECT_EQ(accepted("Samples", "[1,2,3]"), "[1,2,3]");
  EXPECT_EQ(accepted("Samples", "[]"), "[]");
  EXPECT_EQ(code_of("Samples", "[1,2,3,4]"), 6324);
  EXPECT_EQ(code_of("Samples", "{}"), 6328);
  r = check("Samples", "[1,10]");
  EXPECT_EQ(to_int(r.ec), 6306);
  EXPECT_EQ(r.message, "tsl parse: int value is bigger than max 9 -> Samples[1]");

  EXPECT_EQ(accepted("Points", R"([{"a":0.5},{"a":1}])"), R"([{"a":0.5},{"a":1}])");
  r = check("Points", R"([{"a":0.5},{"a":2}])");
  EXPECT_EQ(to_int(r.ec), 6322);
  EXPECT_EQ(r.message, "tsl parse: double value is bigger than max 1 -> Points[1].a");
}

} // namespace thingport::thing::test
