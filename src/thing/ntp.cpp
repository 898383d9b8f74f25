#include "thing/ntp.hpp"

#include <boost/json/object.hpp>

#include "thing/code.hpp"

namespace thingport::thing {

namespace json = boost::json;

result<std::string> ntp_response(std::string_view request_payload, time_point received,
                                 time_point sent) {
  auto doc = parse_json(request_payload, {.max_bytes = 4096, .max_depth = 4});
  if (!doc) {
    return doc.error();
  }
  const json::value* device_time = member(*doc, "deviceSendTime");
  if (device_time == nullptr ||
      !(device_time->is_string() || device_time->is_int64() || device_time->is_uint64())) {
    return make_error_code(code::bad_params);
  }
  const bool as_string = device_time->is_string();
  auto server_time = [&](time_point t) -> json::value {
    if (as_string) {
      return json::string(std::to_string(to_ms(t)));
    }
    return to_ms(t);
  };
  json::object out;
  out.emplace("deviceSendTime", *device_time);
  out.emplace("serverRecvTime", server_time(received));
  out.emplace("serverSendTime", server_time(sent));
  return to_json(out);
}

} // namespace thingport::thing
