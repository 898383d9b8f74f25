// The Alink result codes (docs/protocol.md "Alink messages") as an std::error_code category. One
// value travels from the check that refuses something to the `code` of the reply the device gets,
// to the `checkFailedData` entry applications see, and to logs and metrics.
//
// Where the platform's documentation names a code we use it; where it is silent we follow the
// numbering the platform uses in its own messages ("tsl parse: ..."), marked [ours] below and in
// docs/thing.md.
#pragma once

#include <string_view>
#include <system_error>

namespace thingport::thing {

enum class code : int {
  ok = 200,
  bad_request = 400,          // the request could not be processed
  unauthorized = 401,         // a sub-device's sign (thing.topo.add) does not check
  too_many_requests = 429,    // throttled
  bad_params = 460,           // params missing, of the wrong shape, empty, or over a limit
  server_error = 500,         // the store failed
  device_not_found = 6100,    // no such device
  too_many_properties = 6106, // more than 200 properties in one post
  not_json = 6207,            // the payload is not JSON (or too deep, or too large)
  method_not_found = 6300,    // no method, or one the platform does not serve
  param_not_in_model = 6304,  // a key of params (property, event output, struct member) unknown
  bad_int = 6306,             // int: not an integer, or outside min..max
  bad_float = 6307,           // float: not a number, or outside min..max
  bad_bool = 6308,            // [ours] bool: not 0 or 1
  bad_enum = 6309,            // [ours] enum: not an integer key of the enum
  bad_text = 6310,            // text: not a string, or longer than its length
  bad_date = 6311,            // [ours] date: not UTC milliseconds (a string of digits)
  bad_struct = 6312,          // [ours] struct: not a JSON object
  not_defined = 6320,         // the event, service or property a request names is not defined
  bad_double = 6322,          // double: not a number, or outside min..max
  bad_array_size = 6324,      // [ours] array: more items than its size
  bad_array = 6328,           // [ours] array: not a JSON array
};

const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(code c) noexcept {
  return {static_cast<int>(c), error_category()};
}

// The numeric code of a reply: the value itself for this category, 400 for a stray error of
// another category (which should not happen), 200 for no error.
int to_int(std::error_code ec) noexcept;

// The reply `message`: "success" for ok, else a short English sentence.
std::string_view message_of(code c) noexcept;

} // namespace thingport::thing

template <> struct std::is_error_code_enum<thingport::thing::code> : std::true_type {};
