#include "api/token.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "auth/identity.hpp"
#include "auth/sign.hpp"

namespace thingport::api {

namespace {

constexpr std::size_t max_token_bytes = 256;

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

bool usable(std::string_view t) noexcept {
  if (t.empty() || t.size() > max_token_bytes)
    return false;
  for (char c : t)
    if (c <= ' ' || c > '~')
      return false;
  return true;
}

std::runtime_error sys_error(const std::string& what, const std::filesystem::path& p) {
  return std::runtime_error(what + " " + p.string() + ": " + std::strerror(errno));
}

// Creates `p` with mode 0600 holding `token`; false when it exists already (another process
// raced us to it), throws on other failures.
bool create_exclusive(const std::filesystem::path& p, const std::string& token) {
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST)
      return false;
    throw sys_error("cannot create", p);
  }
  const std::string text = token + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok) {
    errno = saved;
    std::error_code ignored;
    std::filesystem::remove(p, ignored);
    throw sys_error("cannot write", p);
  }
  return true;
}

} // namespace

void replace_token_file(const std::filesystem::path& file, const std::string& token) {
  if (!usable(token))
    throw std::runtime_error("the cluster's admin token is not usable (1 to 256 printable "
                             "characters)");
  auto next = file;
  next += ".new";
  std::error_code ignored;
  std::filesystem::remove(next, ignored); // left by a start that died half-way
  if (!create_exclusive(next, token))
    throw sys_error("cannot create", next);
  std::filesystem::rename(next, file); // throws filesystem_error (a runtime_error)
}

std::string read_token_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    throw sys_error("cannot read the admin token file", file);
  std::string text(max_token_bytes + 64, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  const auto t = trim(text);
  if (!usable(t))
    throw std::runtime_error("the admin token file " + file.string() +
                             " holds no usable token (1 to 256 printable characters)");
  return std::string(t);
}

admin_token load_or_create_token(std::string configured, const std::filesystem::path& data_dir) {
  if (!configured.empty()) {
    if (!usable(configured))
      throw std::runtime_error("[http] token must be 1 to 256 printable characters, no spaces");
    return {std::move(configured), {}, false};
  }
  const auto file = data_dir / token_file_name;
  if (!std::filesystem::exists(file)) {
    std::string token = auth::random_hex(32);
    if (create_exclusive(file, token))
      return {std::move(token), file, true};
  }
  return {read_token_file(file), file, false};
}

bool bearer_matches(std::string_view authorization, std::string_view token) noexcept {
  if (token.empty())
    return false;
  constexpr std::string_view scheme = "bearer ";
  if (authorization.size() < scheme.size())
    return false;
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    char c = authorization[i];
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
    if (c != scheme[i])
      return false;
  }
  return auth::secure_equal(trim(authorization.substr(scheme.size())), token);
}

} // namespace thingport::api
