// Checks one value a device sent against its data type in the thing model (docs/protocol.md "Alink
// messages", "Thing models"). The platform's rule: a value that fails is dropped with a code and a
// message, the rest of the message is kept; so a check never throws and always says why.
//
// Codes (thing::code): int 6306, float 6307, double 6322, text 6310, bool 6308, enum 6309,
// date 6311, struct 6312, array 6328 / 6324 (too many items), an unknown struct member 6304.
// A failing struct member or array item reports its own code, with a message naming the path
// ("tsl parse: int value is bigger than max 100 -> Pos.x").
//
// Accepted values come back normalised for storage: an int or enum sent as 5.0 becomes 5, a
// bool sent as true/false becomes 1/0 [ours: the platform takes only 0/1]; everything else as
// sent. Pure functions; any thread.
#pragma once

#include <boost/json/value.hpp>

#include <string>
#include <string_view>
#include <system_error>

#include "thing/code.hpp"
#include "thing/tsl.hpp"

namespace thingport::thing {

struct check_result {
  std::error_code ec{};       // thing::code; empty when accepted
  std::string message{};      // "tsl parse: data type is not int -> Counter" when refused
  boost::json::value value{}; // the accepted value, normalised

  explicit operator bool() const noexcept { return !ec; }
};

// `name` is the identifier (or path) the message names.
check_result check_value(const data_spec& spec, const boost::json::value& v, std::string_view name);

// A failure with the platform's message form "tsl parse: <what> -> <name>".
check_result check_failure(code c, std::string_view what, std::string_view name);

} // namespace thingport::thing
