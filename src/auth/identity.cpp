#include "auth/identity.hpp"

#include <openssl/evp.h>

#include <stdexcept>

#include <openssl/rand.h>

#include <array>
#include <stdexcept>
#include <vector>

namespace thingport::auth {

namespace {

bool alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool key_char(char c) noexcept {
  return alnum(c) || c == '_' || c == '-';
}

bool name_char(char c) noexcept {
  return alnum(c) || c == '_' || c == '-' || c == '@' || c == '.' || c == ':';
}

template <typename Pred> bool all_of(std::string_view s, Pred pred) noexcept {
  for (char c : s) {
    if (!pred(c)) {
      return false;
    }
  }
  return true;
}

void fill_random(unsigned char* out, std::size_t n) {
  while (n > 0) {
    const int chunk = n > 4096 ? 4096 : static_cast<int>(n);
    if (RAND_bytes(out, chunk) != 1) {
      throw std::runtime_error("RAND_bytes failed");
    }
    out += chunk;
    n -= static_cast<std::size_t>(chunk);
  }
}

} // namespace

bool valid_device_name(std::string_view dn) noexcept {
  return dn.size() >= 4 && dn.size() <= 32 && all_of(dn, name_char);
}

bool valid_product_key(std::string_view pk) noexcept {
  return !pk.empty() && pk.size() <= 32 && all_of(pk, key_char);
}

bool valid_app_key(std::string_view app_key) noexcept {
  return valid_product_key(app_key);
}

std::optional<device_username> parse_username(std::string_view username) noexcept {
  const auto amp = username.find('&');
  if (amp == std::string_view::npos || username.find('&', amp + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  device_username u{username.substr(0, amp), username.substr(amp + 1)};
  if (!valid_device_name(u.device_name) || !valid_product_key(u.product_key)) {
    return std::nullopt;
  }
  return u;
}

std::string random_alphanumeric(std::size_t n) {
  static constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  static_assert(alphabet.size() == 62);
  std::string out;
  out.reserve(n);
  std::array<unsigned char, 64> buf{};
  while (out.size() < n) {
    fill_random(buf.data(), buf.size());
    for (unsigned char b : buf) {
      // 248 = 4 * 62: rejecting 248..255 keeps every character equally likely.
      if (b < 248 && out.size() < n) {
        out.push_back(alphabet[b % 62]);
      }
    }
  }
  return out;
}

std::string random_hex(std::size_t n_bytes) {
  std::vector<std::uint8_t> bytes(n_bytes);
  fill_random(bytes.data(), n_bytes);
  return to_hex(bytes);
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const auto b : bytes) {
    out.push_back(digits[b >> 4U]);
    out.push_back(digits[b & 0x0fU]);
  }
  return out;
}

bool from_hex(std::string_view text, std::span<std::uint8_t> out) noexcept {
  if (text.size() != 2 * out.size())
    return false;
  auto digit = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = digit(text[2 * i]), lo = digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return false;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

std::string generate_product_key() {
  return random_alphanumeric(11);
}
std::string generate_device_name() {
  return random_alphanumeric(20);
}
std::string generate_app_key() {
  return random_alphanumeric(16);
}
std::string generate_secret() {
  return random_hex(16);
}
std::string generate_device_token() {
  return random_hex(16);
}

std::string iot_id(std::string_view product_key, std::string_view device_name,
                   std::int64_t created_ms) {
  std::string text;
  text.append(product_key).append("/").append(device_name).append("/");
  text.append(std::to_string(created_ms));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr) != 1 || len < 12)
    throw std::runtime_error("SHA-256 failed");
  return to_hex({md, 12});
}

} // namespace thingport::auth
