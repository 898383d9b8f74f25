// The request target of an API request, parsed once (Boost.URL) into what both the token check
// and the router act on: the percent-decoded path segments and the decoded query fields. Only
// canonical paths are accepted, so one resource has one spelling and a check on the decoded
// path is a check on what is routed: no empty segments ("//", a trailing "/"), no "." or ".."
// segments, no escape of a character that needs none (letters, digits, "-._~", so "%61pi" is
// refused) and no escaped "/" or NUL. A refused target is a 400 before any other decision.
// Pure; any thread; never throws on input.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "api/form.hpp"
#include "api/http.hpp"

namespace thingport::api {

struct target {
  std::vector<std::string> segments; // decoded; "/" has none
  form_fields query;                 // decoded, in order, duplicates kept

  // The token-protected part of the API: everything under /api.
  bool needs_token() const noexcept { return !segments.empty() && segments.front() == "api"; }
};

std::variant<target, problem> parse_target(std::string_view raw, std::size_t max_query_fields = 64);

} // namespace thingport::api
