// The admin token that guards /api/v1/...: [http] token from the config, else the data
// directory's admin.token, generated on first start (64 random hex chars, mode 0600).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace thingport::api {

inline constexpr std::string_view token_file_name = "admin.token";

struct admin_token {
  std::string value;
  std::filesystem::path file; // empty when configured
  bool generated = false;     // written just now: the caller prints it once
};

// Control plane (startup): throws std::runtime_error when the file cannot be read or written,
// or holds no usable token.
admin_token load_or_create_token(std::string configured, const std::filesystem::path& data_dir);

// Puts `token` in `file` in place of what it holds (a new file, mode 0600, renamed over it): a
// cluster node taking the cluster's token. Throws std::runtime_error.
void replace_token_file(const std::filesystem::path& file, const std::string& token);

// The token kept in `file` (surrounding whitespace dropped). Throws std::runtime_error.
std::string read_token_file(const std::filesystem::path& file);

// "Bearer <token>" (scheme in any letter case) carrying exactly `token`; compared in constant
// time for equal lengths. An empty `token` matches nothing.
bool bearer_matches(std::string_view authorization, std::string_view token) noexcept;

} // namespace thingport::api
