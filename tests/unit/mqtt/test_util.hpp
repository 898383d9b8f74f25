// Helpers shared by the mqtt codec tests: hex <-> bytes, and short descriptions of parse
// results so that a failed expectation reads "error invalid_qos" rather than a byte dump.
#pragma once

#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mqtt/error.hpp"
#include "mqtt/packet.hpp"
#include "mqtt/parser.hpp"
#include "mqtt/serializer.hpp"

namespace thingport::mqtt::test {

// "30 03 00 01 61" (spaces optional) -> bytes. Bad digits yield an empty vector.
inline std::vector<std::uint8_t> from_hex(std::string_view hex) {
  std::vector<std::uint8_t> out;
  int hi = -1;
  for (const char c : hex) {
    int v = -1;
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v = c - 'A' + 10;
    else if (c == ' ' || c == '\t')
      continue;
    else
      return {};
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  return hi < 0 ? out : std::vector<std::uint8_t>{};
}

inline std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (const std::uint8_t b : bytes) {
    if (!out.empty())
      out.push_back(' ');
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0x0F]);
  }
  return out;
}

inline std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

inline std::string encoded(const packet& p) {
  std::string out;
  encode(p, out);
  return out;
}

inline std::string_view errc_name(errc e) {
  switch (e) {
  case errc::ok:
    return "ok";
  case errc::malformed_remaining_length:
    return "malformed_remaining_length";
  case errc::packet_too_large:
    return "packet_too_large";
  case errc::invalid_packet_type:
    return "invalid_packet_type";
  case errc::invalid_fixed_header_flags:
    return "invalid_fixed_header_flags";
  case errc::malformed_packet:
    return "malformed_packet";
  case errc::invalid_utf8:
    return "invalid_utf8";
  case errc::invalid_topic_name:
    return "invalid_topic_name";
  case errc::invalid_topic_filter:
    return "invalid_topic_filter";
  case errc::zero_packet_id:
    return "zero_packet_id";
  case errc::invalid_qos:
    return "invalid_qos";
  case errc::empty_subscribe:
    return "empty_subscribe";
  case errc::empty_unsubscribe:
    return "empty_unsubscribe";
  case errc::invalid_protocol_name:
    return "invalid_protocol_name";
  case errc::unsupported_protocol_level:
    return "unsupported_protocol_level";
  case errc::invalid_connect_flags:
    return "invalid_connect_flags";
  case errc::identifier_rejected:
    return "identifier_rejected";
  case errc::payload_too_large:
    return "payload_too_large";
  }
  return "?";
}

inline constexpr errc all_errcs[] = {errc::malformed_remaining_length,
                                     errc::packet_too_large,
                                     errc::invalid_packet_type,
                                     errc::invalid_fixed_header_flags,
                                     errc::malformed_packet,
                                     errc::invalid_utf8,
                                     errc::invalid_topic_name,
                                     errc::invalid_topic_filter,
                                     errc::zero_packet_id,
                                     errc::invalid_qos,
                                     errc::empty_subscribe,
                                     errc::empty_unsubscribe,
                                     errc::invalid_protocol_name,
                                     errc::unsupported_protocol_level,
                                     errc::invalid_connect_flags,
                                     errc::identifier_rejected,
                                     errc::payload_too_large};

// "packet PUBLISH", "need_more 0", "need_more 12", "error invalid_qos".
inline std::string describe(const parse_result& r) {
  switch (r.state) {
  case parse_result::status::packet:
    return "packet " + std::string(to_string(type_of(r.pkt)));
  case parse_result::status::need_more:
    return "need_more " + std::to_string(r.needed);
  case parse_result::status::error:
    if (r.ec.category() == error_category())
      return "error " + std::string(errc_name(static_cast<errc>(r.ec.value())));
    return "error " + r.ec.message();
  }
  return "?";
}

inline std::string describe_hex(std::string_view hex, const parser_options& opts = {}) {
  const auto bytes = from_hex(hex);
  return describe(parse(bytes, opts));
}

} // namespace thingport::mqtt::test

namespace thingport::mqtt {
// gtest prints packets by type and wire bytes.
inline void PrintTo(const packet& p, std::ostream* os) {
  *os << to_string(type_of(p)) << " [" << test::to_hex(test::as_bytes(test::encoded(p))) << "]";
}
} // namespace thingport::mqtt
