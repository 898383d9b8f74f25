// The hook where a thing model (TSL, PROTOCOL.md §TSL) is checked before PUT .../tsl stores it.
//
// TODAY this checks only the top-level shape: a JSON object whose "schema" (if present) is a
// string, "profile" an object, and "properties", "events", "services" arrays. The thing layer
// (src/thing) is building the full validation; when it lands, validate_tsl calls it and the API
// does not change. Pure; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace thingport::api {

// nullopt when acceptable, else why not (for a 400).
std::optional<std::string> validate_tsl(std::string_view json);

} // namespace thingport::api
