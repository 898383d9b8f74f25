// The Range header of a firmware download (RFC 9110 §14): one range of bytes, "bytes=a-b",
// "bytes=a-" or "bytes=-n". Anything else (several ranges, another unit, bad syntax) is
// ignored: the whole file is sent, as the RFC allows. Pure; never throws.
#pragma once

#include <cstdint>
#include <string_view>

namespace thingport::api {

struct byte_range {
  std::uint64_t first = 0;
  std::uint64_t last = 0; // inclusive
  friend bool operator==(const byte_range&, const byte_range&) = default;
};

enum class range_kind : std::uint8_t { none, partial, unsatisfiable };

struct range_answer {
  range_kind kind = range_kind::none;
  byte_range range{}; // partial: within [0, size)
};

range_answer parse_range(std::string_view header, std::uint64_t size) noexcept;

} // namespace thingport::api
