// The token rule of the API, decided once per request from its header alone (before any body
// is read) on the parsed target (target.hpp) that the router then routes: everything under
// /api needs "Authorization: Bearer <token>". Pure; any thread.
#pragma once

#include <string_view>
#include <variant>

#include "api/http.hpp"
#include "api/target.hpp"

namespace thingport::api {

// The target to route, or the refusal: 400 for a target parse_target refuses, 401 (with
// WWW-Authenticate) for /api without the right token. Throws only std::bad_alloc.
std::variant<target, response> admit(const request& req, std::string_view token);

} // namespace thingport::api
