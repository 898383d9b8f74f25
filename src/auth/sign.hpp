// The Aliyun sign: hex HMAC over a content string made of key+value pairs in alphabetical key
// order (docs/protocol.md "Logging in", "Dynamic registration", "The cloud side"). Pure functions;
// any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace thingport::auth {

enum class sign_method : std::uint8_t { hmacmd5, hmacsha1, hmacsha256 };

// "hmacmd5", "hmacsha1", "hmacsha256", in any letter case; nullopt otherwise.
std::optional<sign_method> parse_sign_method(std::string_view text) noexcept;
std::string_view to_string(sign_method m) noexcept; // lower case, as parsed

inline constexpr std::size_t max_digest_size = 32;

struct digest {
  std::array<unsigned char, max_digest_size> bytes{};
  std::size_t size = 0; // 16 / 20 / 32; 0 only if OpenSSL failed
};

digest hmac(sign_method m, std::string_view key, std::string_view data) noexcept;
std::string to_hex(const digest& d); // lower case
std::string hmac_hex(sign_method m, std::string_view key, std::string_view data);

// Compares two hex strings ignoring letter case, in time that depends only on their lengths
// (both are lower-cased into fixed buffers, then CRYPTO_memcmp). Different lengths give false
// after the same amount of work. Strings over 128 chars never compare equal.
bool hex_equal(std::string_view a, std::string_view b) noexcept;

// Exact byte comparison in constant time for equal lengths (device tokens, connwl).
bool secure_equal(std::string_view a, std::string_view b) noexcept;

// HMAC(key, data) compared with the hex `password` as by hex_equal. No allocation.
bool verify_hex_hmac(sign_method m, std::string_view key, std::string_view data,
                     std::string_view password) noexcept;

// Device login (MQTT password): each field present contributes key+value, in the order
// clientId, deviceName, productKey, timestamp.
struct device_sign_fields {
  std::optional<std::string_view> client_id{};
  std::optional<std::string_view> device_name{};
  std::optional<std::string_view> product_key{};
  std::optional<std::string_view> timestamp{};
};
std::string device_sign_content(const device_sign_fields& f);
std::string device_sign(sign_method m, std::string_view device_secret, const device_sign_fields& f);

// Dynamic registration, over MQTT (authType=register/regnwl) and over HTTP
// (POST /auth/register/device): "deviceName<dn>productKey<pk>random<R>", keyed by productSecret.
std::string register_sign_content(std::string_view device_name, std::string_view product_key,
                                  std::string_view random);
std::string register_sign(sign_method m, std::string_view product_secret,
                          std::string_view device_name, std::string_view product_key,
                          std::string_view random);
inline std::string http_register_sign(sign_method m, std::string_view product_secret,
                                      std::string_view device_name, std::string_view product_key,
                                      std::string_view random) {
  return register_sign(m, product_secret, device_name, product_key, random);
}

// Application clients (docs/protocol.md "The cloud side"):
// "appKey<appKey>clientId<id>timestamp<ms>", keyed by appSecret; the timestamp pair is left out
// when absent, as for devices.
std::string app_sign_content(std::string_view app_key, std::string_view client_id,
                             std::optional<std::string_view> timestamp);
std::string app_sign(std::string_view app_secret, std::string_view app_key,
                     std::string_view client_id, std::optional<std::string_view> timestamp,
                     sign_method m = sign_method::hmacsha256);

} // namespace thingport::auth
