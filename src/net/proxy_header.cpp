#include "net/proxy_header.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <string>

namespace thingport::net {

namespace {

namespace ip = boost::asio::ip;
using result = proxy_header_result;

constexpr std::array<std::uint8_t, 12> v2_signature{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                    0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::string_view v1_prefix = "PROXY ";
constexpr std::size_t v1_max = 107; // "PROXY TCP6 " + two full IPv6 addresses + ports + CRLF

result invalid(std::string_view why) {
  result r;
  r.state = result::status::invalid;
  r.error = why;
  return r;
}

result need_more() {
  return {};
}

result complete(std::size_t length, std::optional<ip::tcp::endpoint> source) {
  result r;
  r.state = result::status::complete;
  r.length = length;
  r.source = source;
  return r;
}

// True when `have` is a prefix of `whole` (or the other way round).
bool agrees(std::span<const std::uint8_t> have, std::span<const std::uint8_t> whole) {
  const std::size_t n = std::min(have.size(), whole.size());
  return std::equal(have.begin(), have.begin() + static_cast<std::ptrdiff_t>(n), whole.begin());
}

// Cuts the next space-separated field off the front of `rest`.
std::string_view field(std::string_view& rest) {
  const std::size_t sp = rest.find(' ');
  const std::string_view f = rest.substr(0, sp);
  rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
  return f;
}

std::optional<std::uint16_t> port_of(std::string_view text) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0'))
    return std::nullopt;
  unsigned v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || p != text.data() + text.size() || v > 65535)
    return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

std::optional<ip::address> address_of(std::string_view text, bool v6) {
  if (text.empty() || text.size() > 45)
    return std::nullopt;
  boost::system::error_code ec;
  const std::string s(text);
  if (v6) {
    const auto a = ip::make_address_v6(s, ec);
    if (ec || a.scope_id() != 0)
      return std::nullopt;
    return ip::address(a);
  }
  const auto a = ip::make_address_v4(s, ec);
  if (ec)
    return std::nullopt;
  return ip::address(a);
}

// "PROXY TCP4 src dst sport dport\r\n", "PROXY TCP6 ...", or "PROXY UNKNOWN[ anything]\r\n".
result parse_v1(std::span<const std::uint8_t> bytes) {
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()),
                              std::min(bytes.size(), v1_max));
  const std::size_t cr = text.find_first_of("\r\n");
  if (cr == std::string_view::npos)
    return bytes.size() >= v1_max ? invalid("v1 header longer than 107 bytes") : need_more();
  if (text[cr] == '\n')
    return invalid("v1 header line not ended by CRLF");
  if (cr + 1 >= text.size())
    return bytes.size() >= v1_max ? invalid("v1 header longer than 107 bytes") : need_more();
  if (text[cr + 1] != '\n')
    return invalid("v1 header line not ended by CRLF");
  std::string_view rest = text.substr(v1_prefix.size(), cr - v1_prefix.size());
  const std::string_view family = field(rest);
  const std::size_t length = cr + 2;
  if (family == "UNKNOWN")
    return complete(length, std::nullopt);
  if (family != "TCP4" && family != "TCP6")
    return invalid("v1 header with an unknown protocol");
  const bool v6 = family == "TCP6";
  const auto src = address_of(field(rest), v6);
  const auto dst = address_of(field(rest), v6);
  const auto sport = port_of(field(rest));
  const auto dport = port_of(field(rest));
  if (!src || !dst || !sport || !dport || !rest.empty())
    return invalid("v1 header with malformed addresses or ports");
  return complete(length, ip::tcp::endpoint(*src, *sport));
}

std::uint16_t be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

// 12-byte signature, version and command, family and transport, length, then the addresses.
result parse_v2(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 16)
    return need_more();
  const std::uint8_t version = bytes[12] >> 4, command = bytes[12] & 0x0F;
  if (version != 2)
    return invalid("v2 header with a version other than 2");
  if (command > 1)
    return invalid("v2 header with an unknown command");
  const std::size_t body = be16(&bytes[14]);
  if (16 + body > max_proxy_header)
    return invalid("v2 header longer than the bound");
  if (bytes.size() < 16 + body)
    return need_more();
  const std::size_t length = 16 + body;
  if (command == 0) // LOCAL: the balancer speaking for itself; addresses, if any, are ignored
    return complete(length, std::nullopt);
  const std::uint8_t family = bytes[13] >> 4, transport = bytes[13] & 0x0F;
  const std::uint8_t* a = &bytes[16];
  if (transport != 1 && !(family == 0 && transport == 0))
    return invalid("v2 header for a transport other than TCP");
  switch (family) {
  case 0: // UNSPEC: the balancer does not know; keep the socket's address
    return complete(length, std::nullopt);
  case 1: { // IPv4: src, dst, sport, dport
    if (body < 12)
      return invalid("v2 header too short for IPv4 addresses");
    ip::address_v4::bytes_type src{};
    std::memcpy(src.data(), a, 4);
    return complete(length, ip::tcp::endpoint(ip::address_v4(src), be16(a + 8)));
  }
  case 2: { // IPv6
    if (body < 36)
      return invalid("v2 header too short for IPv6 addresses");
    ip::address_v6::bytes_type src{};
    std::memcpy(src.data(), a, 16);
    return complete(length, ip::tcp::endpoint(ip::address_v6(src), be16(a + 32)));
  }
  default:
    return invalid("v2 header for an address family other than IPv4 or IPv6");
  }
}

} // namespace

proxy_header_result parse_proxy_header(std::span<const std::uint8_t> bytes) noexcept {
  if (bytes.empty())
    return need_more();
  try {
    const std::span<const std::uint8_t> v1(reinterpret_cast<const std::uint8_t*>(v1_prefix.data()),
                                           v1_prefix.size());
    if (bytes[0] == v1_prefix[0]) {
      if (!agrees(bytes, v1))
        return invalid("no PROXY header");
      return bytes.size() < v1.size() ? need_more() : parse_v1(bytes);
    }
    if (bytes[0] == v2_signature[0]) {
      if (!agrees(bytes, v2_signature))
        return invalid("no PROXY header");
      return parse_v2(bytes);
    }
    return invalid("no PROXY header");
  } catch (...) { // std::string for the address text; nothing else throws
    return invalid("out of memory");
  }
}

} // namespace thingport::net
