// Incremental MQTT decoder. Stateless: call parse() on the bytes received so far; it either
// returns one packet and how many bytes it used (call again for batched packets), asks for more
// bytes (partial packet), or fails. The size limit is checked from the fixed header, before the
// body has arrived, so a peer claiming 256 MB is refused after at most 5 bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

#include "mqtt/packet.hpp"

namespace thingport::mqtt {

struct parser_options {
  // Largest remaining length accepted (fixed header excluded). Default: 256 KiB payload plus
  // room for a maximal topic and packet id.
  std::size_t max_remaining_length = 262144 + 65536 + 4;
  // Largest PUBLISH payload accepted (errc::payload_too_large beyond it).
  std::size_t max_payload = 262144;
  // Which side decodes: a server refuses packets only a server sends (CONNACK, SUBACK...),
  // a client refuses packets only a client sends. Both decode everything when false.
  enum class role { any, server, client } side = role::any;
};

struct fixed_header {
  packet_type type{};
  std::uint8_t flags = 0; // low nibble of the first byte
  std::size_t remaining_length = 0;
  std::size_t header_length = 0; // 2..5
};

struct parse_result {
  // g++ -Wshadow flags the scoped enumerator `packet` as shadowing mqtt::packet (it cannot:
  // it is only reachable as status::packet); silenced here so every includer builds.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
  enum class status { packet, need_more, error };
#pragma GCC diagnostic pop
  status state = status::need_more;
  packet pkt;               // valid when state == packet
  std::size_t consumed = 0; // bytes of this packet (fixed header included) when state == packet
  std::size_t needed = 0; // when need_more: total size of the packet if the header is known, else 0
  std::error_code ec;     // when error
};

// Reads only the fixed header. need_more when fewer than 2..5 header bytes are present;
// `packet` when the header is complete and acceptable (filled into `out`); error when the
// first byte (type, flags, direction), the length encoding or the size limit is wrong, or a
// fixed-size packet (CONNACK, PUBACK.., PINGREQ..) has another remaining length.
parse_result::status peek_fixed_header(std::span<const std::uint8_t> in, fixed_header& out,
                                       std::error_code& ec, const parser_options& opts = {});

// Decodes the first packet in `in`. A PUBLISH in the result points into `in`.
parse_result parse(std::span<const std::uint8_t> in, const parser_options& opts = {});

} // namespace thingport::mqtt
