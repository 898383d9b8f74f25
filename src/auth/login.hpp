// The whole device login decision (docs/protocol.md "Logging in", "Dynamic registration", "The
// cloud side") as one function: CONNECT fields and a device lookup in, a refusal (CONNACK code +
// reason) or an accepted identity out. No I/O of its own, no clock reads, no exceptions on anything
// the peer sent.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "auth/client_id.hpp"
#include "auth/lookup.hpp"
#include "auth/rate_limiter.hpp"
#include "auth/sign.hpp"
#include "mqtt/packet.hpp"

namespace thingport::auth {

// The CONNECT fields login() looks at. Views; they need to live only during the call.
struct connect_request {
  std::uint8_t protocol_level = mqtt::protocol_level_311;
  std::string_view client_id{};
  std::optional<std::string_view> username{};
  std::optional<std::string_view> password{};
  std::uint16_t keepalive = 0; // seconds
  bool clean_session = true;
  bool is_tls = false;       // TLS or WSS
  std::string_view source{}; // the peer's address (no port): failed logins are counted by it
};

// Views into `p`, which must outlive the result.
connect_request make_connect_request(const mqtt::connect_packet& p, bool is_tls) noexcept;

struct login_policy {
  std::uint16_t keepalive_min = 30;
  std::uint16_t keepalive_max = 1200;
  bool allow_anonymous = false; // generic clients (no '|' block) get full access
  client_id_limits client_id{};
};

enum class client_kind : std::uint8_t {
  device,          // triplet sign, or connwl with a device token
  register_device, // authType=register: gets its deviceSecret on /ext/register, then closed
  register_nwl,    // authType=regnwl: gets a deviceToken on /ext/regnwl, then closed
  app,             // application client (docs/protocol.md "The cloud side")
  anonymous,       // generic MQTT client, allowed by policy
};

std::string_view to_string(client_kind k) noexcept;

struct login_identity {
  client_kind kind = client_kind::anonymous;
  auth_type auth = auth_type::device;
  std::string client_id{};   // <id> of an Aliyun-style id; the whole id of a generic client
  std::string product_key{}; // device and registration kinds
  std::string device_name{};
  std::string iot_id{};                    // device: auth::iot_id() of it
  std::string app_key{};                   // app
  std::vector<std::string> app_products{}; // app: the product keys it may use
  // Where the session (subscriptions, offline queue) lives. device: "d|pk/dn", independent
  // of <id> (docs/protocol.md "Logging in"); registration: "r|pk/dn"; app: "a|appKey|<id>", so that
  // several instances of one backend do not take each other over; generic: the raw client id (may
  // be empty: the broker assigns one or refuses). Generic ids never contain '|' (any '|' makes the
  // id Aliyun-style), so the namespaces cannot collide.
  std::string session_key{};
  // register only: the deviceSecret to send on /ext/register.
  std::string registration_secret{};
  bool ss = false;       // _ss=1: subscribe the system topics implicitly (ss_filters())
  std::uint32_t ext = 0; // ext= bitmap
  bool gateway = false;  // gw=1
  std::optional<int> securemode{};
  sign_method method = sign_method::hmacmd5; // the method the password was checked with
  bool clean_session = true;

  bool rrpc_ext() const noexcept { return (ext & ext_rrpc) != 0; }
};

struct login_result {
  std::error_code ec; // auth::errc; empty when accepted
  mqtt::connack_code code = mqtt::connack_code::accepted;
  login_identity identity; // meaningful when accepted

  bool accepted() const noexcept { return !ec; }
};

// Decides a login. Order of checks: protocol level (1), client id (2), then per kind:
//   device/connwl: keepalive (2), username dn&pk (4), device lookup (3/4), rate (5), sign or
//                  token (4), enabled (5);
//   register/regnwl: TLS (2), random present (2), username (4), product lookup (3/4),
//                  dynamic registration on (5), rate (5), sign with productSecret (4), device
//                  state (register: must exist, be enabled and not activated; regnwl: if it
//                  exists, likewise) (4/5); keepalive is not checked;
//   app:           keepalive (2), username = appKey (4), app lookup (3/4), rate (5), sign (4),
//                  enabled (5);
//   generic:       allowed when policy.allow_anonymous (keepalive unchecked), else 5.
// The disabled/active checks come after the sign so that only a holder of the secret learns
// them; an unknown device or app and a wrong sign get the same answer (4), after the same HMAC
// work, so the answer does not tell which devices exist. `limiter`, when given, counts the
// logins per device (or app client) key that passed the sign check (5 over it): a device
// reconnecting in a loop is slowed, and nobody without the secret can use up its budget.
// `failures`, when given, counts failed logins (bad or unknown username, wrong sign) per
// req.source; a source over it is refused (5) before any lookup, for every identity alike, so
// guessing is slowed without locking out the rightful device elsewhere. `now` is only passed
// to the limiters.
// Threads: any thread, concurrently, as far as `lookup` allows (the limiter is thread-safe).
login_result login(const connect_request& req, const device_lookup& lookup,
                   const login_policy& policy = {}, connect_rate_limiter* limiter = nullptr,
                   connect_rate_limiter::clock::time_point now = {},
                   connect_rate_limiter* failures = nullptr);

// The session key of device pk/dn's MQTT session ("d|pk/dn", login_identity::session_key): what
// the broker's session registry knows the device by.
std::string device_session_key(std::string_view pk, std::string_view dn);

} // namespace thingport::auth
