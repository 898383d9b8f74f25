#include "auth/sign.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <climits>

namespace thingport::auth {

namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
    if (c != b[i]) {
      return false;
    }
  }
  return true;
}

const EVP_MD* md_of(sign_method m) noexcept {
  switch (m) {
  case sign_method::hmacmd5:
    return EVP_md5();
  case sign_method::hmacsha1:
    return EVP_sha1();
  case sign_method::hmacsha256:
    return EVP_sha256();
  }
  return nullptr;
}

// Branch-free ASCII lower-casing: the hex we compare comes from a secret.
unsigned char lower(unsigned char c) noexcept {
  const unsigned is_upper = static_cast<unsigned>(static_cast<unsigned char>(c - 'A') < 26U);
  return static_cast<unsigned char>(c + (is_upper << 5U));
}

constexpr std::size_t max_hex = 128;

void append(std::string& out, std::string_view key, std::optional<std::string_view> value) {
  if (value) {
    out.append(key);
    out.append(*value);
  }
}

} // namespace

std::optional<sign_method> parse_sign_method(std::string_view text) noexcept {
  if (iequals(text, "hmacmd5")) {
    return sign_method::hmacmd5;
  }
  if (iequals(text, "hmacsha1")) {
    return sign_method::hmacsha1;
  }
  if (iequals(text, "hmacsha256")) {
    return sign_method::hmacsha256;
  }
  return std::nullopt;
}

std::string_view to_string(sign_method m) noexcept {
  switch (m) {
  case sign_method::hmacmd5:
    return "hmacmd5";
  case sign_method::hmacsha1:
    return "hmacsha1";
  case sign_method::hmacsha256:
    return "hmacsha256";
  }
  return "unknown";
}

digest hmac(sign_method m, std::string_view key, std::string_view data) noexcept {
  digest d;
  const EVP_MD* md = md_of(m);
  if (md == nullptr || key.size() > INT_MAX) {
    return d;
  }
  unsigned int len = 0;
  // HMAC() with an empty key needs a non-null pointer.
  static const unsigned char empty = 0;
  const void* k = key.empty() ? static_cast<const void*>(&empty) : key.data();
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  if (HMAC(md, k, static_cast<int>(key.size()), data.empty() ? &empty : in, data.size(),
           d.bytes.data(), &len) == nullptr ||
      len > d.bytes.size()) {
    return digest{};
  }
  d.size = len;
  return d;
}

std::string to_hex(const digest& d) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(d.size * 2);
  for (std::size_t i = 0; i < d.size; ++i) {
    out.push_back(digits[d.bytes[i] >> 4U]);
    out.push_back(digits[d.bytes[i] & 0x0fU]);
  }
  return out;
}

std::string hmac_hex(sign_method m, std::string_view key, std::string_view data) {
  return to_hex(hmac(m, key, data));
}

bool hex_equal(std::string_view a, std::string_view b) noexcept {
  std::array<unsigned char, max_hex> la{};
  std::array<unsigned char, max_hex> lb{};
  const std::size_t n = a.size() < max_hex ? a.size() : max_hex;
  for (std::size_t i = 0; i < n; ++i) {
    la[i] = lower(static_cast<unsigned char>(a[i]));
  }
  // b is lower-cased only up to a's length, so its own length leaks nothing more.
  const std::size_t m = b.size() < n ? b.size() : n;
  for (std::size_t i = 0; i < m; ++i) {
    lb[i] = lower(static_cast<unsigned char>(b[i]));
  }
  const bool same = CRYPTO_memcmp(la.data(), lb.data(), n) == 0;
  return same && a.size() == b.size() && a.size() <= max_hex;
}

bool secure_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    CRYPTO_memcmp(a.data(), a.data(), a.size()); // same work as a match of a's length
    return false;
  }
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool verify_hex_hmac(sign_method m, std::string_view key, std::string_view data,
                     std::string_view password) noexcept {
  const digest d = hmac(m, key, data);
  if (d.size == 0) {
    return false;
  }
  static constexpr char digits[] = "0123456789abcdef";
  std::array<char, max_digest_size * 2> hex{};
  for (std::size_t i = 0; i < d.size; ++i) {
    hex[2 * i] = digits[d.bytes[i] >> 4U];
    hex[2 * i + 1] = digits[d.bytes[i] & 0x0fU];
  }
  return hex_equal(std::string_view(hex.data(), d.size * 2), password);
}

std::string device_sign_content(const device_sign_fields& f) {
  std::string out;
  out.reserve(
      64 + (f.client_id ? f.client_id->size() : 0) + (f.device_name ? f.device_name->size() : 0) +
      (f.product_key ? f.product_key->size() : 0) + (f.timestamp ? f.timestamp->size() : 0));
  append(out, "clientId", f.client_id);
  append(out, "deviceName", f.device_name);
  append(out, "productKey", f.product_key);
  append(out, "timestamp", f.timestamp);
  return out;
}

std::string device_sign(sign_method m, std::string_view device_secret,
                        const device_sign_fields& f) {
  return hmac_hex(m, device_secret, device_sign_content(f));
}

std::string register_sign_content(std::string_view device_name, std::string_view product_key,
                                  std::string_view random) {
  std::string out;
  append(out, "deviceName", device_name);
  append(out, "productKey", product_key);
  append(out, "random", random);
  return out;
}

std::string register_sign(sign_method m, std::string_view product_secret,
                          std::string_view device_name, std::string_view product_key,
                          std::string_view random) {
  return hmac_hex(m, product_secret, register_sign_content(device_name, product_key, random));
}

std::string app_sign_content(std::string_view app_key, std::string_view client_id,
                             std::optional<std::string_view> timestamp) {
  std::string out;
  append(out, "appKey", app_key);
  append(out, "clientId", client_id);
  append(out, "timestamp", timestamp);
  return out;
}

std::string app_sign(std::string_view app_secret, std::string_view app_key,
                     std::string_view client_id, std::optional<std::string_view> timestamp,
                     sign_method m) {
  return hmac_hex(m, app_secret, app_sign_content(app_key, client_id, timestamp));
}

} // namespace thingport::auth
