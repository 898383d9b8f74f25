// The thing model parser: the platform's export format in full, and every refusal with the
// path of the first error.
#include "thing/tsl.hpp"

#include <gtest/gtest.h>

#include <string>

#include "sample_tsl.hpp"

namespace thingport::thing::test {

namespace {

// The error of parsing `json`; fails the test when it parses.
tsl_error error_of(std::string_view json) {
  tsl_result r = parse_tsl(json);
  EXPECT_FALSE(r) << json;
  return r.error;
}

// A model with one property of this dataType.
std::string with_type(std::string_view data_type) {
  return R"({"properties":[{"identifier":"P","name":"p","dataType":)" + std::string(data_type) +
         "}]}";
}

} // namespace

TEST(Tsl, ParsesThePlatformExport) {
  auto m = sample_model();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->product_key(), "a1pk");
  EXPECT_EQ(m->json(), sample_tsl); // kept as given, byte for byte
  ASSERT_EQ(m->properties().size(), 10U);
  // The generated entries are accepted and not listed.
  ASSERT_EQ(m->events().size(), 1U);
  EXPECT_EQ(m->events()[0].identifier, "HardwareError");
  EXPECT_EQ(m->events()[0].type, event_type::error);
  EXPECT_EQ(m->events()[0].name, "Hardware error");
  ASSERT_EQ(m->services().size(), 2U);
  EXPECT_EQ(m->find_event("post"), nullptr);
  EXPECT_EQ(m->find_service("set"), nullptr);

  const property* counter = m->find_property("Counter");
  ASSERT_NE(counter, nullptr);
  EXPECT_EQ(counter->spec.type, data_type::int32);
  EXPECT_EQ(counter->spec.int_min, 0);
  EXPECT_EQ(counter->spec.int_max, 99999);
  EXPECT_EQ(counter->spec.unit, "%");
  EXPECT_EQ(counter->access, access_mode::read_write);

  const property* t = m->find_property("Temperature");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->spec.type, data_type::float32);
  EXPECT_EQ(t->spec.min, -40);
  EXPECT_EQ(t->spec.max, 120);
  EXPECT_EQ(t->access, access_mode::read_only);

  EXPECT_EQ(m->find_property("Humidity")->spec.max, 100); // numbers as well as strings
  EXPECT_EQ(m->find_property("Label")->spec.length, 8U);
  EXPECT_EQ(m->find_property("Mode")->spec.enum_keys, (std::vector<std::int64_t>{0, 1, 5}));

  const property* pos = m->find_property("Position");
  ASSERT_EQ(pos->spec.members.size(), 2U);
  EXPECT_EQ(pos->spec.members[1].identifier, "label");
  EXPECT_EQ(pos->spec.members[1].spec.length, 4U);

  const property* points = m->find_property("Points");
  EXPECT_EQ(points->spec.size, 2U);
  ASSERT_EQ(points->spec.item.size(), 1U);
  EXPECT_EQ(points->spec.item[0].type, data_type::structure);
  EXPECT_EQ(points->spec.item[0].members[0].spec.type, data_type::float64);

  const service* reboot = m->find_service("Reboot");
  ASSERT_NE(reboot, nullptr);
  EXPECT_EQ(reboot->call, call_type::sync);
  EXPECT_EQ(reboot->input[0].spec.int_max, 60);
  EXPECT_EQ(m->find_service("Calibrate")->call, call_type::async);
  EXPECT_EQ(m->find_property("Nope"), nullptr);
}

TEST(Tsl, EmptyAndMinimalModels) {
  EXPECT_TRUE(parse_tsl("{}"));
  EXPECT_TRUE(parse_tsl(R"({"properties":[],"events":[],"services":[]})"));
  EXPECT_TRUE(parse_tsl(R"({"properties":null})"));
  // Data types without specs take their full range.
  auto r = parse_tsl(with_type(R"({"type":"double"})"));
  ASSERT_TRUE(r);
  EXPECT_LT(r.model->properties()[0].spec.min, -1e300);
  EXPECT_EQ(parse_tsl(with_type(R"({"type":"text"})")).model->properties()[0].spec.length,
            max_text_length);
  // Unknown keys are the platform's business.
  EXPECT_TRUE(parse_tsl(R"({"functionBlocks":[],"_ppk":{}})"));
}

TEST(Tsl, WholeDocumentErrors) {
  EXPECT_EQ(error_of("").path, "");
  EXPECT_EQ(error_of("not json").path, "");
  EXPECT_EQ(error_of("[]").message, "the thing model must be a JSON object");
  EXPECT_EQ(error_of(R"({"properties":{}})").path, "properties");
  EXPECT_EQ(error_of(R"({"properties":[1]})").path, "properties[0]");
  EXPECT_EQ(error_of(R"({"profile":[]})").path, "profile");
  EXPECT_EQ(error_of(R"({"profile":{"productKey":1}})").path, "profile.productKey");
  // Nesting deeper than the limit, and ten million '[': refused, no deep recursion.
  EXPECT_NE(error_of(std::string(40, '[') + std::string(40, ']')).message.find("deeper"),
            std::string::npos);
  tsl_limits big;
  big.max_bytes = 20 * 1024 * 1024;
  EXPECT_FALSE(parse_tsl(std::string(10 * 1024 * 1024, '['), big));
  EXPECT_NE(error_of(std::string(1024 * 1024 + 1, ' ')).message.find("larger"), std::string::npos);
}

TEST(Tsl, IdentifierRules) {
  EXPECT_TRUE(valid_identifier("a"));
  EXPECT_TRUE(valid_identifier(std::string(50, 'x')));
  EXPECT_FALSE(valid_identifier(std::string(51, 'x')));
  EXPECT_FALSE(valid_identifier(""));
  EXPECT_FALSE(valid_identifier("a-b"));
  EXPECT_FALSE(valid_identifier("a/b"));
  EXPECT_FALSE(valid_identifier("温度"));
  for (std::string_view r : reserved_identifiers) {
    EXPECT_TRUE(reserved_identifier(r));
    const tsl_error e = error_of(R"({"properties":[{"identifier":")" + std::string(r) +
                                 R"(","dataType":{"type":"int"}}]})");
    EXPECT_EQ(e.path, "properties[0].identifier");
    EXPECT_NE(e.message.find("reserved"), std::string::npos) << e.message;
  }
  EXPECT_FALSE(reserved_identifier("Value")); // the platform's words are lower case

  tsl_error e = error_of(R"({"properties":[{"identifier":"a b","dataType":{"type":"int"}}]})");
  EXPECT_EQ(e.path, "properties[0].identifier");
  e = error_of(R"({"properties":[{"name":"x","dataType":{"type":"int"}}]})");
  EXPECT_EQ(e.path, "properties[0].identifier");
  EXPECT_EQ(e.message, "identifier is missing");
  // A generated-looking entry whose method does not match is an ordinary one: reserved.
  e = error_of(R"({"events":[{"identifier":"post","method":"thing.event.post.post"}]})");
  EXPECT_EQ(e.path, "events[0].identifier");
}

TEST(Tsl, DuplicatesAreRefused) {
  tsl_error e = error_of(R"({"properties":[
    {"identifier":"A","dataType":{"type":"int"}},
    {"identifier":"B","dataType":{"type":"int"}},
    {"identifier":"A","dataType":{"type":"int"}}]})");
  EXPECT_EQ(e.path, "properties[2].identifier");
  EXPECT_EQ(e.message, "duplicate identifier \"A\"");
  // One identifier per product across properties, events and services.
  e = error_of(R"({"properties":[{"identifier":"A","dataType":{"type":"int"}}],
                   "services":[{"identifier":"A"}]})");
  EXPECT_EQ(e.path, "services[0].identifier");
  // Within a parameter list and a struct.
  e = error_of(R"({"events":[{"identifier":"E","outputData":[
    {"identifier":"x","dataType":{"type":"int"}},{"identifier":"x","dataType":{"type":"int"}}]}]})");
  EXPECT_EQ(e.path, "events[0].outputData[1].identifier");
  e = error_of(with_type(R"({"type":"struct","specs":[
    {"identifier":"m","dataType":{"type":"int"}},{"identifier":"m","dataType":{"type":"int"}}]})"));
  EXPECT_EQ(e.path, "properties[0].dataType.specs[1].identifier");
  // The same name in two different lists is fine.
  EXPECT_TRUE(parse_tsl(R"({"services":[{"identifier":"S",
    "inputData":[{"identifier":"x","dataType":{"type":"int"}}],
    "outputData":[{"identifier":"x","dataType":{"type":"int"}}]}]})"));
}

TEST(Tsl, StructInsideStructIsRefused) {
  tsl_error e = error_of(with_type(R"({"type":"struct","specs":[
    {"identifier":"inner","name":"i","dataType":{"type":"struct","specs":[
      {"identifier":"x","dataType":{"type":"int"}}]}}]})"));
  EXPECT_EQ(e.path, "properties[0].dataType.specs[0].dataType.type");
  EXPECT_EQ(e.message, "a struct cannot contain a struct");
  // Nor as the item of an array member.
  e = error_of(with_type(R"({"type":"struct","specs":[
    {"identifier":"list","dataType":{"type":"array","specs":{"size":2,"item":{"type":"struct",
      "specs":[{"identifier":"x","dataType":{"type":"int"}}]}}}}]})"));
  EXPECT_EQ(e.path, "properties[0].dataType.specs[0].dataType.specs.item.type");
  // An array of numbers inside a struct, and structs inside an array, are fine.
  EXPECT_TRUE(parse_tsl(with_type(R"({"type":"struct","specs":[
    {"identifier":"list","dataType":{"type":"array","specs":{"size":2,"item":{"type":"int"}}}}]})")));
  // Struct members may not use reserved words: {"value":..} would read as a timed value.
  e = error_of(
      with_type(R"({"type":"struct","specs":[{"identifier":"value","dataType":{"type":"int"}}]})"));
  EXPECT_EQ(e.path, "properties[0].dataType.specs[0].identifier");
}

TEST(Tsl, SpecErrorsCarryTheirPath) {
  struct row {
    std::string data_type;
    std::string path;
    std::string message;
  };
  const row rows[] = {
      {R"({"type":"integer"})", "properties[0].dataType.type", "unknown data type \"integer\""},
      {R"({})", "properties[0].dataType.type", "type is missing"},
      {R"("int")", "properties[0].dataType", "dataType must be an object"},
      {R"({"type":"int","specs":{"min":"a"}})", "properties[0].dataType.specs.min",
       "min must be an int32 integer"},
      {R"({"type":"int","specs":{"max":"1.5"}})", "properties[0].dataType.specs.max",
       "max must be an int32 integer"},
      {R"({"type":"int","specs":{"max":"3000000000"}})", "properties[0].dataType.specs.max",
       "max must be an int32 integer"},
      {R"({"type":"int","specs":{"min":"5","max":"1"}})", "properties[0].dataType.specs.min",
       "min is greater than max"},
      {R"({"type":"int","specs":{"step":"x"}})", "properties[0].dataType.specs.step",
       "step must be a number"},
      {R"({"type":"float","specs":{"min":"1e999"}})", "properties[0].dataType.specs.min",
       "min must be a number"},
      {R"({"type":"double","specs":{"min":2,"max":1}})", "properties[0].dataType.specs.min",
       "min is greater than max"},
      {R"({"type":"int","specs":[]})", "properties[0].dataType.specs", "specs must be an object"},
      {R"({"type":"text","specs":{"length":"10241"}})", "properties[0].dataType.specs.length",
       "length must be 1 to 10240"},
      {R"({"type":"text","specs":{"length":0}})", "properties[0].dataType.specs.length",
       "length must be 1 to 10240"},
      {R"({"type":"enum","specs":{}})", "properties[0].dataType.specs",
       "an enum needs at least one key"},
      {R"({"type":"enum"})", "properties[0].dataType.specs", "specs is missing"},
      {R"({"type":"enum","specs":{"a":"x"}})", "properties[0].dataType.specs.a",
       "enum keys must be int32 integers"},
      {R"({"type":"enum","specs":{"1":"x","01":"y"}})", "properties[0].dataType.specs",
       "duplicate enum key"},
      {R"({"type":"struct","specs":{}})", "properties[0].dataType.specs",
       "the specs of a struct must be an array of members"},
      {R"({"type":"struct","specs":[]})", "properties[0].dataType.specs",
       "a struct needs at least one member"},
      {R"({"type":"array","specs":{"size":"513","item":{"type":"int"}}})",
       "properties[0].dataType.specs.size", "size must be 1 to 512"},
      {R"({"type":"array","specs":{"size":"2"}})", "properties[0].dataType.specs.item",
       "the specs of an array need an item object"},
      {R"({"type":"array","specs":{"size":2,"item":{"type":"bool"}}})",
       "properties[0].dataType.specs.item.type",
       "array items must be int, float, double, text or struct"},
      {R"({"type":"array","specs":{"size":2,"item":{"type":"array","specs":{"size":1,"item":{"type":"int"}}}}})",
       "properties[0].dataType.specs.item.type",
       "array items must be int, float, double, text or struct"},
      {R"({"type":"array","specs":{"size":2,"item":{"type":"int","specs":{"min":"x"}}}})",
       "properties[0].dataType.specs.item.specs.min", "min must be an int32 integer"},
  };
  for (const row& r : rows) {
    const tsl_error e = error_of(with_type(r.data_type));
    EXPECT_EQ(e.path, r.path) << r.data_type;
    EXPECT_EQ(e.message, r.message) << r.data_type;
  }
  // The first error wins: properties[1] is never looked at.
  const tsl_error e = error_of(R"({"properties":[
    {"identifier":"A","dataType":{"type":"int","specs":{"min":"x"}}},
    {"identifier":"B","dataType":{"type":"nope"}}]})");
  EXPECT_EQ(e.path, "properties[0].dataType.specs.min");
}

TEST(Tsl, FeatureFields) {
  tsl_error e =
      error_of(R"({"properties":[{"identifier":"A","accessMode":"w","dataType":{"type":"int"}}]})");
  EXPECT_EQ(e.path, "properties[0].accessMode");
  e = error_of(R"({"events":[{"identifier":"E","type":"fatal"}]})");
  EXPECT_EQ(e.path, "events[0].type");
  e = error_of(R"({"events":[{"identifier":"E","method":"thing.event.F.post"}]})");
  EXPECT_EQ(e.path, "events[0].method");
  EXPECT_EQ(e.message, "method must be thing.event.E.post");
  e = error_of(R"({"services":[{"identifier":"S","callType":"later"}]})");
  EXPECT_EQ(e.path, "services[0].callType");
  e = error_of(R"({"services":[{"identifier":"S","method":"thing.service.T"}]})");
  EXPECT_EQ(e.path, "services[0].method");
  e = error_of(R"({"services":[{"identifier":"S","inputData":{}}]})");
  EXPECT_EQ(e.path, "services[0].inputData");
  e = error_of(R"({"services":[{"identifier":"S","inputData":["x"]}]})");
  EXPECT_EQ(e.path, "services[0].inputData[0]");
  e = error_of(R"({"properties":[{"identifier":"A"}]})");
  EXPECT_EQ(e.path, "properties[0].dataType");
  // Parameters of events and services may use reserved words (the platform's own "time").
  EXPECT_TRUE(parse_tsl(R"({"events":[{"identifier":"E","outputData":[
    {"identifier":"time","dataType":{"type":"int"}}]}]})"));
}

TEST(Tsl, Limits) {
  tsl_limits limits;
  limits.max_features = 2;
  EXPECT_TRUE(parse_tsl(R"({"properties":[{"identifier":"A","dataType":{"type":"int"}},
                                           {"identifier":"B","dataType":{"type":"int"}}]})",
                        limits));
  const tsl_result r = parse_tsl(R"({"properties":[{"identifier":"A","dataType":{"type":"int"}},
      {"identifier":"B","dataType":{"type":"int"}},{"identifier":"C","dataType":{"type":"int"}}]})",
                                 limits);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error.path, "properties");
}

} // namespace thingport::thing::test
