// A peer's address as a connection keeps it, and how it is printed (logs, the status API).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/core.h>

namespace thingport::broker {

// A peer's IP address and port as their bytes: 20 bytes in every connection instead of a 32-byte
// string that allocates once its text passes 15 characters, as most addresses outside loopback
// do (memory per idle connection, docs/performance.md). An IPv6 scope id is not kept.
class peer_address {
public:
  peer_address() = default; // unknown (the socket had no peer): printed "?"
  static peer_address v4(const std::array<std::uint8_t, 4>& ip, std::uint16_t port) noexcept;
  static peer_address v6(const std::array<std::uint8_t, 16>& ip, std::uint16_t port) noexcept;

  bool known() const noexcept { return family_ != 0; }
  // The longest printed form: "[" + an IPv6 address's 45 characters + "]:" + 5 digits.
  static constexpr std::size_t max_text = 53;
  using text_buffer = std::array<char, max_text>;
  // "1.2.3.4:5678", "[::1]:5678" or "?", written into `buf` (no allocation: log lines format
  // it only when they are written, see the fmt::formatter below).
  std::string_view write(text_buffer& buf) const noexcept;
  std::string to_string() const {
    text_buffer buf;
    return std::string(write(buf));
  }
  // "1.2.3.4", "::1" or "?".
  std::string host() const;
  std::uint16_t port() const noexcept { return port_; }
  friend bool operator==(const peer_address&, const peer_address&) = default;

private:
  using host_buffer = std::array<char, 46>;                     // INET6_ADDRSTRLEN
  std::string_view write_host(host_buffer& buf) const noexcept; // "?" when unknown

  std::array<std::uint8_t, 16> ip_{}; // an IPv4 address in the first 4
  std::uint16_t port_ = 0;
  std::uint8_t family_ = 0; // 0: unknown, 4 or 6
};

} // namespace thingport::broker

// Log lines take a peer_address as it is: it is printed only when the line is written.
template <>
struct fmt::formatter<thingport::broker::peer_address> : fmt::formatter<std::string_view> {
  template <class Context>
  auto format(const thingport::broker::peer_address& a, Context& ctx) const {
    thingport::broker::peer_address::text_buffer buf;
    return fmt::formatter<std::string_view>::format(a.write(buf), ctx);
  }
};
