// Dynamic registration ("one type, one secret", docs/protocol.md "Dynamic registration"): a device
// that knows its productKey, the productSecret and its own name asks the platform for its
// deviceSecret, over HTTP or over MQTT. Blocking (control plane); any thread; makes its own
// io_context.
#pragma once

#include <chrono>
#include <string>
#include <system_error>

#include "thingport/device/client.hpp"

namespace thingport::device {

struct registration_request {
  // http://host:port or https://host:port: the HTTP API (POST /auth/register/device);
  // mqtts://host:port or wss://host:port/path: over MQTT (authType=register; the platform
  // answers on /ext/register and refuses plain mqtt:// and ws:// with CONNACK 2).
  std::string url;
  std::string product_key;
  std::string product_secret;
  std::string device_name;
  std::string sign_method = "hmacsha256";
  std::string ca_file; // https, mqtts, wss: CA to verify the server against (empty: system CAs)
  // Bounds the whole exchange: connect, TLS handshake, request and response (HTTP: at most
  // 8 KiB of header and 64 KiB of body, else an error).
  std::chrono::milliseconds timeout{10000};
};

struct registration_result {
  // Transport error, timeout, errc::bad_reply, or over MQTT a refused CONNECT (connack_category:
  // 2 not over TLS, 4 bad sign or unknown device, 5 registration off, device already active or
  // disabled).
  std::error_code error;
  int code = 0; // the platform's code: 200; over HTTP also 6288 disabled, 6289 active, 6600 sign
  std::string message;
  triplet device; // when code == 200
};

// HTTP: POST /auth/register/device with productKey, deviceName, random, sign, signMethod.
// MQTT: CONNECT with ClientId "<dn>|securemode=2,authType=register,random=R,signmethod=M|",
// then the answer on /ext/register, then DISCONNECT.
registration_result register_device(const registration_request& r);

} // namespace thingport::device
