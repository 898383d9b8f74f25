// Query parameters shared by the list endpoints: offset (default 0) and limit (1..1000,
// default 100). Pure; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "api/form.hpp"
#include "api/http.hpp"
#include "store/identity_store.hpp"

namespace thingport::api {

// A page, or the problem with the query (400).
std::variant<store::page, problem> page_of(const form_fields& query);

// A non-negative decimal integer up to `max`; nullopt otherwise.
std::optional<std::uint64_t> parse_uint(std::string_view text, std::uint64_t max) noexcept;

// Milliseconds since the epoch, as the API shows times.
inline std::int64_t millis(store::timestamp t) noexcept {
  return t.time_since_epoch().count();
}

} // namespace thingport::api
