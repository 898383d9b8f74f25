// What an `auto` listener makes of the first byte a client sends (docs/protocol.md "Transports"): a
// TLS handshake record, an MQTT CONNECT, or the `GET` of a WebSocket upgrade. Pure; unit tested.
#pragma once

#include <cstdint>

namespace thingport::net {

enum class sniffed : std::uint8_t { tls, mqtt, http, unknown };

constexpr sniffed sniff(std::uint8_t first) noexcept {
  switch (first) {
  case 0x16:
    return sniffed::tls; // TLS record type 22: handshake (ClientHello)
  case 0x10:
    return sniffed::mqtt; // CONNECT, flags 0
  case 'G':
    return sniffed::http; // "GET /... HTTP/1.1": a WebSocket upgrade
  default:
    return sniffed::unknown;
  }
}

// Inside a TLS session only MQTT and a WebSocket upgrade make sense: TLS in TLS is refused.
constexpr sniffed sniff_inside_tls(std::uint8_t first) noexcept {
  const sniffed s = sniff(first);
  return s == sniffed::tls ? sniffed::unknown : s;
}

} // namespace thingport::net
