#include "auth/base64.hpp"

#include <openssl/evp.h>

namespace thingport::auth {

namespace {

int value_of(char c) noexcept {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

} // namespace

std::string base64_encode(std::string_view bytes) {
  // EVP_EncodeBlock writes the padded text and a NUL after it.
  std::string buf(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(buf.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  buf.resize(static_cast<std::size_t>(n));
  return buf;
}

std::optional<std::string> base64_decode(std::string_view text) {
  // OpenSSL decodes; what it lets through is checked first: whole quads, the alphabet, at most
  // two '=' and only at the end, and zero bits where the padding leaves some unused (one
  // spelling per value).
  if (text.size() % 4 != 0)
    return std::nullopt;
  std::size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=')
    ++pad;
  const std::string_view body = text.substr(0, text.size() - pad);
  for (const char c : body)
    if (value_of(c) < 0)
      return std::nullopt;
  if (!body.empty() && pad != 0) {
    const int last = value_of(body.back());
    if ((pad == 1 && (last & 0x3) != 0) || (pad == 2 && (last & 0xF) != 0))
      return std::nullopt;
  }
  if (text.empty())
    return std::string();
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0 || static_cast<std::size_t>(n) != out.size())
    return std::nullopt;
  out.resize(out.size() - pad); // EVP_DecodeBlock counts the padding as zero bytes
  return out;
}

} // namespace thingport::auth
