// Why a login or registration was refused, as an std::error_code category. Each value maps to
// the CONNACK return code that refuses the client (docs/protocol.md "Logging in" table), so one
// value travels from the check to the packet and to the connection's close reason.
#pragma once

#include <string_view>
#include <system_error>

#include "mqtt/packet.hpp"

namespace thingport::auth {

enum class errc {
  ok = 0,
  // CONNACK 1
  unsupported_protocol_level = 1,
  // CONNACK 2: the client id, its |...| block, keepalive, transport
  client_id_too_long,     // whole client id over the limit
  id_too_long,            // <id> over 64 chars
  unterminated_block,     // '|' without a closing '|', or text after the closing '|'
  malformed_item,         // key without '=', or empty key
  bad_securemode,         // not an integer
  bad_signmethod,         // not hmacmd5 / hmacsha1 / hmacsha256
  bad_ext,                // not a non-negative 32-bit integer
  bad_auth_type,          // authType not register / regnwl / connwl / app
  missing_random,         // registration without random=
  keepalive_out_of_range, // outside [keepalive_min, keepalive_max]
  registration_needs_tls, // dynamic registration over a plain transport
  // CONNACK 3
  lookup_unavailable, // the store did not answer
  // CONNACK 4
  bad_username,   // missing, not dn&pk, not a valid identity
  unknown_device, // no such product or device
  unknown_app,    // no such application
  bad_sign,       // password does not match
  // CONNACK 5
  device_disabled,       // device or application disabled
  registration_disabled, // product without dynamic registration
  device_already_active, // registration of a device that has connected before
  rate_limited,          // over the connect attempts per minute
  anonymous_not_allowed, // generic client while allow_anonymous is off
};

const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

// The CONNACK code refusing a client for `e` (accepted for errc::ok).
mqtt::connack_code connack_code_for(errc e) noexcept;

// Short stable name ("bad_sign", ...) for logs and metrics labels.
std::string_view to_string(errc e) noexcept;

} // namespace thingport::auth

template <> struct std::is_error_code_enum<thingport::auth::errc> : std::true_type {};
