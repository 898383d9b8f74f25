// The firmware files of OTA upgrades (docs/ota.md), under a directory of the data dir
// (data/firmware/<firmwareId>.bin). An upload is written to a temporary file beside them while
// its MD5 and SHA-256 are computed, and renamed into place only when complete: a cut or refused
// upload leaves nothing (the temporary file goes with the upload object, and leftovers of a
// crash are removed at start).
//
// Threads: firmware_files may be used from any thread; one upload from one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace thingport::platform {

// A firmware id: 32 lower-case hex characters (what new_firmware_id() makes). Anything else
// names no file (no path can be smuggled in).
bool valid_firmware_id(std::string_view id) noexcept;
std::string new_firmware_id();

class firmware_upload {
public:
  // Creates the temporary file; throws std::runtime_error when it cannot.
  explicit firmware_upload(const std::filesystem::path& dir);
  ~firmware_upload(); // removes the temporary file unless committed
  firmware_upload(const firmware_upload&) = delete;
  firmware_upload& operator=(const firmware_upload&) = delete;

  // Appends and hashes; false on an I/O error (disk full).
  bool write(const void* data, std::size_t n) noexcept;
  std::uint64_t size() const noexcept { return size_; }
  // Ends the hashing and flushes the file to disk; false on an I/O error. Once.
  bool finish() noexcept;
  const std::string& md5() const noexcept { return md5_; }       // after finish(): lower hex
  const std::string& sha256() const noexcept { return sha256_; } // after finish()
  // Renames the finished file to `target`; false on failure (the temporary file then goes).
  bool commit(const std::filesystem::path& target) noexcept;

private:
  std::filesystem::path temp_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  evp_md_ctx_st* md5_ctx_ = nullptr;
  evp_md_ctx_st* sha_ctx_ = nullptr;
  std::string md5_, sha256_;
  bool committed_ = false;
};

class firmware_files {
public:
  // Creates `dir` (mode 0700) and removes leftover temporary files. Throws std::runtime_error.
  explicit firmware_files(std::filesystem::path dir);

  std::unique_ptr<firmware_upload> begin() const { return std::make_unique<firmware_upload>(dir_); }
  // The file of a valid id (which may not exist).
  std::filesystem::path path_of(std::string_view id) const;
  void remove(std::string_view id) const noexcept;

private:
  std::filesystem::path dir_;
};

} // namespace thingport::platform
