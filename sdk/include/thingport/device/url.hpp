// Server URLs the device connects to: mqtt://host[:1883], mqtts://host[:8883],
// ws://host[:80][/path], wss://host[:443][/path]. The path (WebSocket only) defaults to /mqtt.
// IPv6 literals go in brackets: mqtt://[::1]:1883. Pure; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace thingport::device {

enum class transport_kind : std::uint8_t { tcp, tls, ws, wss };

struct server_url {
  transport_kind kind = transport_kind::tcp;
  std::string host;
  std::uint16_t port = 0;
  std::string path = "/mqtt"; // WebSocket request target
  bool secure() const noexcept {
    return kind == transport_kind::tls || kind == transport_kind::wss;
  }
  bool websocket() const noexcept {
    return kind == transport_kind::ws || kind == transport_kind::wss;
  }
};

// nullopt for an unknown scheme, an empty host, a port that is not 1..65535, or a path on an
// mqtt(s) URL.
std::optional<server_url> parse_url(std::string_view text);

std::string_view to_string(transport_kind k) noexcept; // "tcp", "tls", "ws", "wss"

} // namespace thingport::device
