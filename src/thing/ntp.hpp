// NTP over MQTT (docs/protocol.md "Alink messages"): the device publishes
// {"deviceSendTime":"1571724098000"} on /ext/ntp/{pk}/{dn}/request and gets
// {"deviceSendTime","serverRecvTime","serverSendTime"} on /ext/ntp/{pk}/{dn}/response, every time
// in the JSON type the device used for its own (a string stays a string, a number a number), so
// that SDKs parsing either way work. Pure.
#pragma once

#include <string>
#include <string_view>

#include "thing/json.hpp"

namespace thingport::thing {

// The response payload; not_json / bad_params when the request has no deviceSendTime that is
// a string or an integer.
result<std::string> ntp_response(std::string_view request_payload, time_point received,
                                 time_point sent);

} // namespace thingport::thing
