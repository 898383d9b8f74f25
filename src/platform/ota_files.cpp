#include "platform/ota_files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include <openssl/evp.h>

#include "auth/identity.hpp"

namespace thingport::platform {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view temp_prefix = ".upload-";

std::string final_hex(EVP_MD_CTX* ctx) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  if (EVP_DigestFinal_ex(ctx, md, &n) != 1)
    return {};
  return auth::to_hex({md, n});
}

} // namespace

bool valid_firmware_id(std::string_view id) noexcept {
  if (id.size() != 32)
    return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  return true;
}

std::string new_firmware_id() {
  return auth::random_hex(16);
}

firmware_upload::firmware_upload(const fs::path& dir)
    : temp_(dir / (std::string(temp_prefix) + auth::random_hex(8))) {
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd_ < 0)
    throw std::runtime_error("cannot create " + temp_.string() + ": " + std::strerror(errno));
  md5_ctx_ = EVP_MD_CTX_new();
  sha_ctx_ = EVP_MD_CTX_new();
  if (md5_ctx_ == nullptr || sha_ctx_ == nullptr ||
      EVP_DigestInit_ex(md5_ctx_, EVP_md5(), nullptr) != 1 ||
      EVP_DigestInit_ex(sha_ctx_, EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(md5_ctx_);
    EVP_MD_CTX_free(sha_ctx_);
    ::close(fd_);
    ::unlink(temp_.c_str());
    throw std::runtime_error("cannot set up the firmware digests");
  }
}

firmware_upload::~firmware_upload() {
  EVP_MD_CTX_free(md5_ctx_);
  EVP_MD_CTX_free(sha_ctx_);
  if (fd_ >= 0)
    ::close(fd_);
  if (!committed_)
    ::unlink(temp_.c_str());
}

bool firmware_upload::write(const void* data, std::size_t n) noexcept {
  if (fd_ < 0)
    return false;
  if (EVP_DigestUpdate(md5_ctx_, data, n) != 1 || EVP_DigestUpdate(sha_ctx_, data, n) != 1)
    return false;
  const auto* p = static_cast<const char*>(data);
  for (std::size_t left = n; left > 0;) {
    const ssize_t w = ::write(fd_, p, left);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return false;
    p += w;
    left -= static_cast<std::size_t>(w);
  }
  size_ += n;
  return true;
}

bool firmware_upload::finish() noexcept {
  if (fd_ < 0)
    return false;
  try {
    md5_ = final_hex(md5_ctx_);
    sha256_ = final_hex(sha_ctx_);
  } catch (...) {
    return false;
  }
  const bool ok = ::fsync(fd_) == 0;
  ::close(fd_);
  fd_ = -1;
  return ok && !md5_.empty() && !sha256_.empty();
}

bool firmware_upload::commit(const fs::path& target) noexcept {
  if (fd_ >= 0 || md5_.empty())
    return false;
  if (::rename(temp_.c_str(), target.c_str()) != 0)
    return false;
  committed_ = true;
  // The rename itself survives a crash once the directory is synced.
  const int dfd = ::open(target.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

firmware_files::firmware_files(fs::path dir) : dir_(std::move(dir)) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec)
    throw std::runtime_error("cannot create " + dir_.string() + ": " + ec.message());
  fs::permissions(dir_, fs::perms::owner_all, ec);
  for (const auto& e : fs::directory_iterator(dir_, ec))
    if (e.path().filename().string().starts_with(temp_prefix))
      fs::remove(e.path(), ec);
}

fs::path firmware_files::path_of(std::string_view id) const {
  return dir_ / (std::string(id) + ".bin");
}

void firmware_files::remove(std::string_view id) const noexcept {
  if (!valid_firmware_id(id))
    return;
  std::error_code ec;
  fs::remove(path_of(id), ec);
}

} // namespace thingport::platform
