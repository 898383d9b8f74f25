// Alink envelopes (docs/protocol.md "Alink messages"): the request a device sends, the reply the
// platform sends back, and the requests the platform sends down. Pure functions; any thread;
// nothing here throws on bad input.
//
// Request:  {"id":"123","version":"1.0","params":{...},"method":"thing.event.property.post",
//            "sys":{"ack":0|1}}
// Reply:    {"id":"123","code":200,"data":{},"message":"success",
//            "method":"thing.event.property.post","version":"1.0"}
// The reply's id is the request's id as sent (a string stays a string, a number a number), its
// method the request's method (derived from the topic when the request has none, as Link SDK 4
// sends), its version the request's version ("1.0" when absent).
#pragma once

#include <boost/json/value.hpp>

#include <string>
#include <string_view>
#include <system_error>

#include "thing/code.hpp"
#include "thing/json.hpp"

namespace thingport::thing {

struct request {
  boost::json::value id{};     // string or integer as sent; null when unusable
  std::string version = "1.0"; // as sent when a string
  std::string method{};        // as sent; the topic's method when absent
  boost::json::value params{}; // null when absent
  bool ack = true;             // sys.ack = 0: the device wants no reply
};

struct request_result {
  // Empty, or why the request is refused: not_json (6207) for a payload that is not JSON, too
  // deep or too large; bad_params (460) for JSON that is not an object or whose id is not a
  // string or an integer; method_not_found (6300) when there is no method and the topic gives
  // none. Whatever could be read is in `value` even then, so the refusal can still be answered
  // with the right id and method.
  std::error_code ec{};
  request value{};
};

// `topic_method` is method_of() of the topic: used when the payload has no method.
request_result parse_request(std::string_view payload, std::string_view topic_method,
                             const json_limits& limits = {});

// The reply envelope for `req` with `c` (message: message_of(c) unless given) and `data`.
std::string make_reply(const request& req, std::error_code c, const boost::json::value& data,
                       std::string_view message = {});

// A request the platform sends down: {"id":id,"version":"1.0","params":params,"method":method}.
std::string make_request(std::string_view id, std::string_view method,
                         const boost::json::value& params);

// A reply a device sent to one of the platform's requests (property set, service, get).
struct device_reply {
  std::string id{};          // as a string (an integer id is printed)
  int code = 0;              // 0 when absent or not an integer
  boost::json::value data{}; // null when absent
  std::string message{};
};

// bad_params when the payload is not a JSON object with an id; not_json when not JSON.
result<device_reply> parse_device_reply(std::string_view payload, const json_limits& limits = {});

// The id as text: a string's content, an integer's decimal digits, "" otherwise.
std::string id_text(const boost::json::value& id);

} // namespace thingport::thing
