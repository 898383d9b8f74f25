// Protocol errors as an std::error_code category. One value travels from the decoder to the
// packet that refuses the client: connack_code_for() says which CONNACK (if any) goes out
// before the connection is closed.
#pragma once

#include <optional>
#include <system_error>

#include "mqtt/packet.hpp"

namespace thingport::mqtt {

enum class errc {
  ok = 0,
  // framing
  malformed_remaining_length = 1, // more than 4 bytes, or truncated encoding
  packet_too_large,               // remaining length over the configured maximum
  invalid_packet_type,            // type 0 or 15, or one this side never receives
  invalid_fixed_header_flags,     // reserved flag bits wrong for the type; DUP on QoS 0
  malformed_packet,               // body shorter/longer than its fields say, reserved values
  // content
  invalid_utf8,         // ill-formed UTF-8 or U+0000 in a string
  invalid_topic_name,   // empty, wildcard, or too long
  invalid_topic_filter, // wildcard rules broken, empty
  zero_packet_id,
  invalid_qos, // 3 in PUBLISH, SUBSCRIBE or will
  empty_subscribe,
  empty_unsubscribe,
  invalid_protocol_name,      // not "MQTT" (level 4) / "MQIsdp" (level 3)
  unsupported_protocol_level, // CONNACK 1
  invalid_connect_flags,      // reserved bit, will flags without will, password w/o user
  identifier_rejected,        // CONNACK 2
  payload_too_large,          // PUBLISH payload over the configured maximum
};

const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

// The CONNACK code to send before closing when this error happens while decoding a CONNECT,
// or nullopt when the connection is closed without a CONNACK.
std::optional<connack_code> connack_code_for(std::error_code ec) noexcept;

} // namespace thingport::mqtt

template <> struct std::is_error_code_enum<thingport::mqtt::errc> : std::true_type {};
