#include "platform/ota_token.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "auth/identity.hpp"
#include "auth/sign.hpp"

namespace thingport::platform {

namespace {

std::string message_of(std::string_view id, std::string_view pk, std::string_view dn,
                       std::int64_t expires) {
  std::string m;
  m.reserve(id.size() + pk.size() + dn.size() + 24);
  m.append(id).append("\n").append(pk).append("\n").append(dn).append("\n");
  m.append(std::to_string(expires));
  return m;
}

void percent_encode(std::string& out, std::string_view s) {
  static constexpr char digits[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
}

} // namespace

download_signer download_signer::load_or_create(const std::filesystem::path& data_dir) {
  const auto file = data_dir / "ota.secret";
  if (!std::filesystem::exists(file)) {
    const std::string secret = auth::random_hex(32);
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      const std::string text = secret + "\n";
      const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                      ::fsync(fd) == 0;
      ::close(fd);
      if (!ok) {
        std::filesystem::remove(file);
        throw std::runtime_error("cannot write " + file.string());
      }
      return download_signer(secret);
    }
    if (errno != EEXIST)
      throw std::runtime_error("cannot create " + file.string() + ": " + std::strerror(errno));
  }
  std::ifstream in(file);
  std::string secret;
  if (!in || !std::getline(in, secret) || secret.size() < 32)
    throw std::runtime_error(file.string() + " holds no usable secret");
  return download_signer(secret);
}

std::string download_signer::sign(std::string_view id, std::string_view pk, std::string_view dn,
                                  std::int64_t expires) const {
  return auth::hmac_hex(auth::sign_method::hmacsha256, secret_, message_of(id, pk, dn, expires));
}

link_check download_signer::check(std::string_view id, std::string_view pk, std::string_view dn,
                                  std::int64_t expires, std::string_view token,
                                  std::int64_t now) const {
  if (!auth::hex_equal(sign(id, pk, dn, expires), token))
    return link_check::forged;
  return now > expires ? link_check::expired : link_check::ok;
}

std::string download_path(const download_signer& s, std::string_view id, std::string_view pk,
                          std::string_view dn, std::int64_t expires, std::string_view prefix,
                          std::string_view scope) {
  std::string out(prefix);
  out.append(id).append("?productKey=");
  percent_encode(out, pk);
  out.append("&deviceName=");
  percent_encode(out, dn);
  out.append("&expires=").append(std::to_string(expires)).append("&sign=");
  out.append(s.sign(std::string(scope) + std::string(id), pk, dn, expires));
  return out;
}

} // namespace thingport::platform
