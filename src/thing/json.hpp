// Bounded JSON for everything the thing layer reads from devices and admins: Boost.JSON with a
// depth limit (its parser keeps its own stack, so a payload of ten million '[' fails at the limit
// without deep recursion) and a size limit, and the number readings the thing model needs.
// Pure functions; any thread; nothing here throws on bad input.
#pragma once

#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace thingport::thing {

// Milliseconds since the Unix epoch (UTC). The same type as store::timestamp.
using time_point = std::chrono::sys_time<std::chrono::milliseconds>;

inline std::int64_t to_ms(time_point t) noexcept {
  return t.time_since_epoch().count();
}
inline time_point from_ms(std::int64_t ms) noexcept {
  return time_point{std::chrono::milliseconds{ms}};
}

template <typename T> using result = boost::system::result<T, std::error_code>;

struct json_limits {
  std::size_t max_bytes = 256 * 1024; // docs/protocol.md "Topics": payloads are at most 256 KB
  std::size_t max_depth = 20;         // Alink nests 5 levels at most (params/struct/array)
};

// The JSON text as a value; code::not_json when it is not JSON, is deeper than max_depth,
// longer than max_bytes, not valid UTF-8, or holds a number too large for a double (1e999).
result<boost::json::value> parse_json(std::string_view text, const json_limits& limits = {});

std::string to_json(const boost::json::value& v);

// An integer: a JSON integer, or a double with no fraction, within int64.
std::optional<std::int64_t> as_int64(const boost::json::value& v) noexcept;
// Any JSON number, as a double.
std::optional<double> as_double(const boost::json::value& v) noexcept;
// A JSON number, or a string holding one ("100", "-0.5": the thing model writes min and max so).
std::optional<std::int64_t> int_of(const boost::json::value& v) noexcept;
std::optional<double> double_of(const boost::json::value& v) noexcept;
// Whole text as a decimal integer / finite number; no spaces, no leading '+'.
std::optional<std::int64_t> parse_int(std::string_view s) noexcept;
std::optional<double> parse_double(std::string_view s) noexcept;

// At most max_bytes of s, cut at a character boundary: a name or message the thing layer shortens
// for a reply or a forward stays valid UTF-8 when s is (a JSON key or string always is).
std::string_view clip_utf8(std::string_view s, std::size_t max_bytes) noexcept;

// The member `key` of an object value, or nullptr when `v` is not an object or has no such key.
const boost::json::value* member(const boost::json::value& v, std::string_view key) noexcept;

} // namespace thingport::thing
