// Dynamic registration over HTTP: POST /auth/register/device (docs/protocol.md "Dynamic
// registration"). The decision only; the HTTP layer parses the form and writes the JSON answer. The
// MQTT variants (authType=register/regnwl) are decided by login().
#pragma once

#include <string>
#include <string_view>

#include "auth/lookup.hpp"

namespace thingport::auth {

// The platform's numeric codes (the JSON "code" field).
namespace registration_code {
inline constexpr int success = 200;
inline constexpr int bad_parameter = 460;     // missing/invalid field, unknown signMethod
inline constexpr int unavailable = 503;       // the store did not answer
inline constexpr int device_not_found = 6100; // "register" needs a pre-created device
inline constexpr int device_disabled = 6204;
inline constexpr int product_not_found = 6250;
inline constexpr int registration_disabled = 6288;
inline constexpr int device_already_active = 6289;
inline constexpr int bad_sign = 6600;
} // namespace registration_code

// The form fields as received. signMethod may be empty (hmacmd5).
struct http_register_request {
  std::string_view product_key{};
  std::string_view device_name{};
  std::string_view random{};
  std::string_view sign{};
  std::string_view sign_method{};
};

struct http_register_result {
  int code = registration_code::success;
  std::string_view message = "success"; // static text
  std::string device_secret{};          // when code == success
};

// Checks fields, product (exists, dynamic registration on), sign with the productSecret, then
// the device (exists, enabled, never activated) — the device is looked at only after the sign
// matched, so only holders of the productSecret learn about devices. Never throws on input.
http_register_result check_http_registration(const http_register_request& req,
                                             const device_lookup& lookup);

} // namespace thingport::auth
