#include "thing_checks.hpp"

#include <array>
#include <string_view>
#include <variant>

#include "thing/alink.hpp"
#include "thing/code.hpp"
#include "thing/handler.hpp"
#include "thing/tsl.hpp"
#include "thing/value_check.hpp"

namespace thingport::thing::fuzz {

namespace {

std::string_view text_of(std::span<const std::uint8_t> data) {
  return {reinterpret_cast<const char*>(data.data()), data.size()};
}

// Values that reach every branch of every data type's check.
constexpr std::array<std::string_view, 12> sample_values = {"0",
                                                            "1",
                                                            "-2147483649",
                                                            "1.5",
                                                            "1e308",
                                                            "\"1635839462000\"",
                                                            "\"text\"",
                                                            "true",
                                                            "null",
                                                            "[1,2,3]",
                                                            R"({"x":1,"label":"a"})",
                                                            R"([{"a":0.5},{"x":1}])"};

std::string check_spec(const data_spec& spec, std::string_view name) {
  for (std::string_view text : sample_values) {
    auto v = parse_json(text);
    if (!v) {
      return "sample value did not parse";
    }
    const check_result r = check_value(spec, *v, name);
    if (!r.ec && !r.message.empty()) {
      return "accepted with a message: " + r.message;
    }
    if (r.ec && (r.ec.category() != error_category() || !r.message.starts_with("tsl parse: "))) {
      return "refused without a thing code or message: " + r.message;
    }
  }
  return "";
}

constexpr std::string_view fuzz_model = R"({"properties":[
  {"identifier":"Counter","accessMode":"rw","dataType":{"type":"int","specs":{"min":"0","max":"100"}}},
  {"identifier":"Temp","dataType":{"type":"float","specs":{"min":"-40","max":"120"}}},
  {"identifier":"Label","dataType":{"type":"text","specs":{"length":"8"}}},
  {"identifier":"Mode","dataType":{"type":"enum","specs":{"0":"a","1":"b"}}},
  {"identifier":"On","dataType":{"type":"bool","specs":{"0":"off","1":"on"}}},
  {"identifier":"Pos","dataType":{"type":"struct","specs":[
    {"identifier":"x","dataType":{"type":"int"}},{"identifier":"label","dataType":{"type":"text"}}]}},
  {"identifier":"List","dataType":{"type":"array","specs":{"size":"4","item":{"type":"double"}}}}],
 "events":[{"identifier":"Alarm","type":"alert","outputData":[
    {"identifier":"level","dataType":{"type":"int","specs":{"min":"0","max":"9"}}}]}],
 "services":[{"identifier":"Reboot","callType":"sync","inputData":[]}]})";

constexpr std::array<std::string_view, 16> fuzz_topics = {
    "/sys/pk/dn/thing/event/property/post",
    "/sys/pk/dn/thing/event/property/batch/post",
    "/sys/pk/dn/thing/event/property/history/post",
    "/sys/pk/dn/thing/event/Alarm/post",
    "/sys/pk/dn/thing/property/desired/get",
    "/sys/pk/dn/thing/property/desired/delete",
    "/sys/pk/dn/thing/deviceinfo/update",
    "/sys/pk/dn/thing/deviceinfo/delete",
    "/sys/pk/dn/thing/dsltemplate/get",
    "/sys/pk/dn/thing/service/property/set_reply",
    "/sys/pk/dn/thing/service/Reboot_reply",
    "/sys/pk/dn/rrpc/response/1",
    "/ext/ntp/pk/dn/request",
    "/shadow/update/pk/dn",
    "/ota/device/inform/pk/dn",
    "/sys/pk/dn/thing/unknown/request",
};

class fuzz_state final : public device_state {
public:
  result<std::vector<desired_value>> desired(std::span<const std::string> ids) override {
    std::vector<desired_value> out;
    for (const std::string& id : ids) {
      out.push_back({.identifier = id, .value = "1", .version = 1});
    }
    return out;
  }
  result<shadow> current_shadow() override {
    return shadow::from_json(
        R"({"state":{"reported":{"a":1},"desired":{"b":2}},"metadata":{},"timestamp":1,"version":3})");
  }
};

bool is_store_action(const action& a) {
  return !std::holds_alternative<publish_action>(a) && !std::holds_alternative<forward_action>(a);
}

} // namespace

std::string check_tsl_input(std::span<const std::uint8_t> data) {
  const std::string_view text = text_of(data);
  const tsl_result r = parse_tsl(text);
  if (!r) {
    if (r.error.message.empty()) {
      return "refused without a message";
    }
    return "";
  }
  const thing_model& m = *r.model;
  if (m.json() != text) {
    return "the model does not keep its JSON";
  }
  for (const property& p : m.properties()) {
    if (m.find_property(p.identifier) != &p || !valid_identifier(p.identifier)) {
      return "property lookup broken: " + p.identifier;
    }
    if (std::string failure = check_spec(p.spec, p.identifier); !failure.empty()) {
      return failure;
    }
  }
  for (const event& e : m.events()) {
    if (m.find_event(e.identifier) != &e) {
      return "event lookup broken: " + e.identifier;
    }
    for (const param& p : e.output) {
      if (std::string failure = check_spec(p.spec, p.identifier); !failure.empty()) {
        return failure;
      }
    }
  }
  for (const service& s : m.services()) {
    if (m.find_service(s.identifier) != &s) {
      return "service lookup broken: " + s.identifier;
    }
  }
  return "";
}

std::string check_alink_input(std::span<const std::uint8_t> data) {
  if (data.empty()) {
    return "";
  }
  static const tsl_result model = parse_tsl(fuzz_model);
  if (!model) {
    return "the fuzz model does not parse: " + model.error.message;
  }
  const std::string_view topic = fuzz_topics[data[0] % fuzz_topics.size()];
  const bool with_model = (data[0] / fuzz_topics.size()) % 2 == 0;
  const std::string_view payload = text_of(data.subspan(1));
  fuzz_state state;
  const handler_result r =
      handle({.topic = topic, .payload = payload, .device = {"pk", "dn"}, .now = from_ms(1000)},
             with_model ? model.model.get() : nullptr, state);

  bool stored = false;
  for (const action& a : r.actions) {
    stored = stored || is_store_action(a);
    const std::string* out = nullptr;
    if (const auto* p = std::get_if<publish_action>(&a)) {
      out = &p->payload;
      if (topic.starts_with("/sys/") && p->topic != std::string(topic) + "_reply") {
        return "a reply on " + p->topic;
      }
    } else if (const auto* f = std::get_if<forward_action>(&a)) {
      out = &f->payload;
    }
    if (out != nullptr && !parse_json(*out, {.max_bytes = 64 << 20, .max_depth = 64})) {
      return "not JSON: " + out->substr(0, 200);
    }
  }
  if (r.failure_reply && !parse_json(r.failure_reply->payload)) {
    return "failure reply not JSON";
  }
  // A refused Alink request (anything but the device replies, RRPC, NTP, OTA) stores nothing.
  const bool alink = topic.starts_with("/sys/") && !topic.ends_with("_reply") &&
                     topic.find("/rrpc/") == std::string_view::npos;
  if (alink && r.ec && stored) {
    return "a refused request stored something: " + r.ec.message();
  }
  return "";
}

} // namespace thingport::thing::fuzz
