#include "platform/push_journal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>

#include <spdlog/spdlog.h>

#include "auth/identity.hpp"

namespace thingport::platform {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view magic = "thingport-push 1";
constexpr std::size_t max_line = 512;

bool write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const auto n = ::write(fd, s.data(), s.size());
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    s.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// The space-separated fields of a line.
std::vector<std::string_view> fields(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    const auto sp = s.find(' ');
    out.push_back(s.substr(0, sp));
    if (sp == std::string_view::npos)
      break;
    s.remove_prefix(sp + 1);
  }
  return out;
}

template <typename T> bool number(std::string_view s, T& out) {
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

} // namespace

std::shared_ptr<push_journal> push_journal::create(const fs::path& file, const push_head& head,
                                                   std::span<const std::string> names) {
  std::string text(magic);
  text += ' ' + head.product_key + ' ' + std::to_string(head.rate_per_minute) + ' ' +
          std::to_string(head.started_ms) + ' ' + std::to_string(names.size()) + '\n';
  for (const auto& n : names)
    text += n + '\n';
  const auto temp = file.parent_path() / (".push-" + auth::random_hex(8));
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    spdlog::error("config: cannot write {}: {}", temp.string(), std::strerror(errno));
    return nullptr;
  }
  const bool ok = write_all(fd, text) && ::fsync(fd) == 0;
  ::close(fd);
  std::error_code ec;
  if (ok)
    fs::rename(temp, file, ec);
  if (!ok || ec) {
    spdlog::error("config: cannot write {}", file.string());
    fs::remove(temp, ec);
    return nullptr;
  }
  if (const int dir = ::open(file.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      dir >= 0) {
    ::fsync(dir); // the rename itself
    ::close(dir);
  }
  return reopen(file);
}

std::shared_ptr<push_journal> push_journal::reopen(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) {
    spdlog::error("config: cannot append to {}: {}", file.string(), std::strerror(errno));
    return nullptr;
  }
  return std::shared_ptr<push_journal>(new push_journal(fd));
}

push_journal::~push_journal() {
  if (fd_ >= 0)
    ::close(fd_);
}

bool push_journal::append(std::string_view lines, bool sync) {
  return write_all(fd_, lines) && (!sync || ::fdatasync(fd_) == 0);
}

std::string push_journal::line(const push_step& s) {
  std::string out(1, s.kind);
  out += ' ' + std::to_string(s.index);
  if (s.kind == 's')
    out += ' ' + std::to_string(s.message_id);
  else if (s.kind == 'r')
    out += ' ' + std::to_string(s.code);
  out += ' ' + std::to_string(s.at_ms) + '\n';
  return out;
}

std::optional<push_journal::contents> push_journal::read(const fs::path& file,
                                                         std::size_t max_devices) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return std::nullopt;
  std::string text;
  contents c;
  if (!std::getline(in, text) || !text.starts_with(magic))
    return std::nullopt;
  auto head = fields(std::string_view(text).substr(magic.size()));
  // "", pk, rate, started, devices
  std::size_t devices = 0;
  if (head.size() != 5 || !head[0].empty() || head[1].empty() ||
      !number(head[2], c.head.rate_per_minute) || !number(head[3], c.head.started_ms) ||
      !number(head[4], devices) || devices > max_devices)
    return std::nullopt;
  c.head.product_key = std::string(head[1]);
  c.names.reserve(devices);
  for (std::size_t i = 0; i < devices; ++i) {
    if (!std::getline(in, text) || text.empty() || text.size() > max_line || in.eof())
      return std::nullopt; // the list is written whole: short means not ours
    c.names.push_back(text);
  }
  while (std::getline(in, text)) {
    if (in.eof())
      break; // no newline: a torn last append
    const auto f = fields(text);
    push_step s;
    if (f.size() < 3 || f[0].size() != 1 || !number(f[1], s.index) || s.index >= devices)
      continue;
    s.kind = f[0][0];
    bool ok = false;
    if (s.kind == 's' && f.size() == 4)
      ok = number(f[2], s.message_id) && number(f[3], s.at_ms);
    else if (s.kind == 'o' && f.size() == 3)
      ok = number(f[2], s.at_ms);
    else if (s.kind == 'r' && f.size() == 4)
      ok = number(f[2], s.code) && number(f[3], s.at_ms);
    if (ok)
      c.steps.push_back(s);
  }
  return c;
}

} // namespace thingport::platform
