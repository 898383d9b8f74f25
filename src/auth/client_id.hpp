// The MQTT ClientId of Aliyun-style clients: `<id>|key=value,key=value,...|` (docs/protocol.md
// "Logging in"). A client id with no '|' at all is a generic MQTT client. Pure functions; any
// thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <system_error>

#include "auth/sign.hpp"

namespace thingport::auth {

// authType= in the block. `device` when absent.
enum class auth_type : std::uint8_t {
  device,          // triplet sign with deviceSecret (or no authType)
  register_device, // authType=register: dynamic registration of a pre-created device
  register_nwl,    // authType=regnwl: registration without a pre-created device
  connect_nwl,     // authType=connwl: login with the deviceToken from regnwl
  app,             // authType=app: application client (docs/protocol.md "The cloud side")
};

std::string_view to_string(auth_type t) noexcept;

struct client_id_limits {
  std::size_t max_total = 512; // the whole client id, block included
  std::size_t max_id = 64;     // the <id> part
};

// A parsed client id. Every view points into the text given to parse_client_id() and lives as
// long as it does.
struct client_id {
  bool aliyun = false;   // false: generic client (no '|'), `id` is the whole text
  std::string_view id{}; // <id>, may be empty
  std::optional<int> securemode{};
  std::optional<sign_method> signmethod{}; // nullopt when absent (default depends on the client)
  std::optional<std::string_view> timestamp{};
  auth_type auth = auth_type::device;
  std::optional<std::string_view> random{};
  bool ss = false;       // _ss=1: deliver system topics without SUBSCRIBE
  std::uint32_t ext = 0; // bit 0: RRPC on /ext/rrpc/...
  bool gateway = false;  // gw=1
  std::string_view instance_id{};
  std::string_view sdk_version{}; // _v
  std::string_view lan{};
  std::string_view pid{};
  std::string_view mid{};
};

inline constexpr std::uint32_t ext_rrpc = 1U << 0U;

struct client_id_result {
  std::error_code ec; // auth::errc; every error maps to CONNACK 2
  client_id value;    // meaningful when !ec
};

// Parses leniently: keys in any order and any letter case, unknown keys ignored, empty items
// and a trailing comma allowed, the last of duplicate keys wins. Errors: total or <id> too
// long, no closing '|' or text after it, an item without '=' or with an empty key, securemode
// or ext not an integer, unknown signmethod or authType. Never throws.
client_id_result parse_client_id(std::string_view text,
                                 const client_id_limits& limits = {}) noexcept;

} // namespace thingport::auth
