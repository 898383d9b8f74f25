#include "thing/file_block.hpp"

#include <charconv>
#include <system_error>

namespace thingport::thing {

std::uint16_t crc16_arc(std::string_view data) noexcept {
  std::uint16_t crc = 0;
  for (unsigned char c : data) {
    crc ^= c;
    for (int i = 0; i < 8; ++i)
      crc = (crc & 1) != 0 ? static_cast<std::uint16_t>((crc >> 1) ^ 0xA001)
                           : static_cast<std::uint16_t>(crc >> 1);
  }
  return crc;
}

std::optional<std::uint64_t> count_of(const boost::json::object& o, std::string_view key) noexcept {
  const auto* v = o.if_contains(key);
  if (v == nullptr)
    return std::nullopt;
  if (v->is_uint64())
    return v->as_uint64();
  if (v->is_int64())
    return v->as_int64() >= 0 ? std::optional<std::uint64_t>(v->as_int64()) : std::nullopt;
  if (v->is_string()) {
    const auto& s = v->as_string();
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec == std::errc{} && end == s.data() + s.size() && !s.empty())
      return n;
  }
  return std::nullopt;
}

} // namespace thingport::thing
