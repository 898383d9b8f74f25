// Where a thing model (TSL, docs/protocol.md "Thing models") is checked before PUT .../tsl stores
// it: the full check of thing::parse_tsl (types, specs, identifiers, reserved words, a struct
// inside a struct, ...). Pure; any thread.
#pragma once

#include <memory>
#include <string_view>
#include <variant>

#include "api/http.hpp"
#include "thing/tsl.hpp"

namespace thingport::api {

// The parsed model, or the 400 naming the JSON path of the first error
// ("thing model: properties[0].dataType.specs.max: min is greater than max").
std::variant<std::shared_ptr<const thing::thing_model>, problem> check_tsl(std::string_view json);

} // namespace thingport::api
