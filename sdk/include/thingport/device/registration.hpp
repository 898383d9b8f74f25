// Dynamic registration over HTTP ("one type, one secret", PROTOCOL.md §3): a device that knows
// its productKey, the productSecret and its own name asks the platform for its deviceSecret.
// Blocking (control plane); any thread; makes its own io_context.
#pragma once

#include <chrono>
#include <string>
#include <system_error>

#include "thingport/device/client.hpp"

namespace thingport::device {

struct registration_request {
  std::string url; // the HTTP API: http://host:port or https://host:port
  std::string product_key;
  std::string product_secret;
  std::string device_name;
  std::string sign_method = "hmacsha256";
  std::string ca_file; // https: CA to verify the server against (empty: system CAs)
  // Bounds the whole exchange: connect, TLS handshake, request and response (at most 8 KiB of
  // header and 64 KiB of body, else an error).
  std::chrono::milliseconds timeout{10000};
};

struct registration_result {
  std::error_code error; // transport error, timeout, or errc::bad_reply
  int code = 0;          // the platform's code: 200, 6288 disabled, 6289 active, 6600 bad sign
  std::string message;
  triplet device; // when code == 200
};

// POST /auth/register/device with productKey, deviceName, random, sign, signMethod.
registration_result register_device(const registration_request& r);

} // namespace thingport::device
