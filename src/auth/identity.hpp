// Identities that end up inside topics: productKey, deviceName, appKey. Checking them here is
// what stops a client from widening its own permissions with '/', '+', '#' or NUL in a name.
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace thingport::auth {

// 4..32 chars of [A-Za-z0-9_-@.:] (docs/protocol.md "The cloud side").
bool valid_device_name(std::string_view dn) noexcept;

// 1..32 chars of [A-Za-z0-9_-]. Generated keys are 11 alphanumerics; longer and older forms
// are accepted.
bool valid_product_key(std::string_view pk) noexcept;

// Application keys: same rule as product keys.
bool valid_app_key(std::string_view app_key) noexcept;

// "<deviceName>&<productKey>": exactly one '&', both parts valid. Views into `username`.
struct device_username {
  std::string_view device_name{};
  std::string_view product_key{};
};
std::optional<device_username> parse_username(std::string_view username) noexcept;

// A device's iotId, as the cloud shows one: stable for the life of the device and unique (24 hex
// characters of SHA-256 over productKey, deviceName and its creation time, so a device deleted
// and made again under the same name gets a new one). Needs no secret and reveals none.
std::string iot_id(std::string_view product_key, std::string_view device_name,
                   std::int64_t created_ms);

// Random identities and secrets from OpenSSL's CSPRNG (RAND_bytes). Control plane: these throw
// std::runtime_error if the generator fails.
std::string generate_product_key();  // 11 chars [A-Za-z0-9]
std::string generate_device_name();  // 20 chars [A-Za-z0-9]
std::string generate_app_key();      // 16 chars [A-Za-z0-9]
std::string generate_secret();       // 32 lower-case hex chars (productSecret, deviceSecret...)
std::string generate_device_token(); // 32 lower-case hex chars (regnwl / connwl)

// `n` chars of [A-Za-z0-9], uniformly distributed.
std::string random_alphanumeric(std::size_t n);
// `n` bytes as 2n lower-case hex chars.
std::string random_hex(std::size_t n_bytes);

// `bytes` as lower-case hex digits, two per byte.
std::string to_hex(std::span<const std::uint8_t> bytes);
// The bytes `text` spells in lower-case hex, into `out` (exactly 2 * out.size() digits); false,
// with `out` unspecified, for any other text.
bool from_hex(std::string_view text, std::span<std::uint8_t> out) noexcept;

} // namespace thingport::auth
