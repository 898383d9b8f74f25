// Errors the device SDK reports to its caller, as std::error_code values:
//  - thingport::device::errc: what the SDK itself detected (timeouts, a closed link, a full
//    buffer...);
//  - the CONNACK category: the server refused the CONNECT; the value is the CONNACK return code
//    (1..5), so `ec.value()` is what the server sent;
//  - anything else comes from the transport as is (Asio/OpenSSL/Beast categories) or from the
//    MQTT decoder when the server sent bytes that are not MQTT.
#pragma once

#include <system_error>

namespace thingport::device {

enum class errc {
  ok = 0,
  connect_timeout = 1, // no CONNACK (or transport handshake) within options::connect_timeout
  keepalive_timeout,   // a PINGREQ went unanswered for a whole keepalive period
  connection_closed,   // the server closed the connection
  unexpected_packet,   // the server sent a packet a client never receives, or one out of order
  buffer_full,         // offline buffer full: the publish was refused
  stopped,             // the client was stopped before the operation completed
  invalid_argument,    // bad topic, filter or QoS
  subscribe_refused,   // SUBACK 0x80 for this filter
  reply_timeout,       // an Alink request got no reply in time
  bad_reply,           // an Alink reply or NTP response that is not the expected JSON
  digest_mismatch,     // a downloaded file's size, MD5 or SHA-256 is not the announced one
  http_status,         // a download answered with a status other than 200, 206 or 416
                       // (MQTT blocks: a reply code other than 200)
};

const std::error_category& error_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

// CONNACK return codes 1..5 as errors ("CONNACK 4: bad user name or password").
const std::error_category& connack_category() noexcept;
inline std::error_code make_connack_error(int code) noexcept {
  return {code, connack_category()};
}

} // namespace thingport::device

template <> struct std::is_error_code_enum<thingport::device::errc> : std::true_type {};
