// The signed, expiring download links of firmware files (docs/ota.md "Download"): the token is
// HMAC-SHA256, keyed by a server secret kept in the data dir (data/ota.secret, mode 0600,
// created on first use), over "firmwareId\nproductKey\ndeviceName\nexpires" (expires: Unix
// seconds). A device fetches its firmware with the link alone, no admin token: the link is
// only good for that firmware, that device, and until it expires.
//
// Threads: const members from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace thingport::platform {

enum class link_check : std::uint8_t { ok, forged, expired };

class download_signer {
public:
  explicit download_signer(std::string secret) : secret_(std::move(secret)) {}
  // Reads data_dir/ota.secret, creating it (32 random bytes, hex) when absent. Throws
  // std::runtime_error.
  static download_signer load_or_create(const std::filesystem::path& data_dir);
  // The secret (a cluster's nodes agree on one through the store: serve.cpp).
  const std::string& secret() const noexcept { return secret_; }

  std::string sign(std::string_view firmware_id, std::string_view pk, std::string_view dn,
                   std::int64_t expires) const;
  // Constant-time compare; `now` in Unix seconds. A forged token is forged whatever the time.
  link_check check(std::string_view firmware_id, std::string_view pk, std::string_view dn,
                   std::int64_t expires, std::string_view token, std::int64_t now) const;

private:
  std::string secret_;
};

inline constexpr std::string_view download_prefix = "/ota/firmware/";
// Remote configuration files (platform/config_service.hpp) are served beside the firmware;
// their links sign "config/" + configId, so that a firmware link never opens a configuration.
inline constexpr std::string_view config_download_prefix = "/ota/config/";
inline constexpr std::string_view config_sign_scope = "config/";

// The path and query of a download link: /ota/firmware/{id}?productKey=..&deviceName=..
// &expires=..&sign=.. (pk and dn percent-encoded); with `prefix` and `scope` another kind of
// file (a configuration: config_download_prefix, config_sign_scope).
std::string download_path(const download_signer& s, std::string_view firmware_id,
                          std::string_view pk, std::string_view dn, std::int64_t expires,
                          std::string_view prefix = download_prefix, std::string_view scope = {});

} // namespace thingport::platform
