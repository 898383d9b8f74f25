// config_service in a cluster (config_service.hpp): the index and the files in the store, and
// the replies to a push that landed on another node.
#include "platform/config_service.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "platform/ota_files.hpp"

namespace thingport::platform {

namespace fs = std::filesystem;

namespace {

using clock = std::chrono::steady_clock;

config_record from_store(store::stored_config c) {
  return {.id = std::move(c.id),
          .product_key = std::move(c.product_key),
          .size = c.size,
          .md5 = std::move(c.md5),
          .sha256 = std::move(c.sha256),
          .created_ms = c.created_ms};
}

} // namespace

void config_service::share_index() {
  auto all = shared_->configs(std::nullopt);
  if (!all)
    throw std::runtime_error("config: store: " + all.error().message());
  // What this node kept before it had a shared store (its index entries on disk) goes there
  // once; the store's index is the one from then on.
  for (const auto& [pk, v] : by_product_)
    for (const auto& c : v) {
      if (std::any_of(all->begin(), all->end(), [&](const auto& a) { return a.id == c.id; }))
        continue;
      std::ifstream in(path_of(c.id), std::ios::binary);
      std::stringstream bytes;
      bytes << in.rdbuf();
      if (auto r = shared_->add_config({c.id, c.product_key, c.size, c.md5, c.sha256, c.created_ms},
                                       bytes.str());
          !r) { // its product gone, say
        spdlog::warn("config: {} of {} not moved to the store ({}): left out", c.id, c.product_key,
                     r.error().message());
        continue;
      }
      all->push_back({c.id, c.product_key, c.size, c.md5, c.sha256, c.created_ms});
      std::error_code ignored;
      fs::remove(dir_ / (c.id + ".json"), ignored);
      spdlog::info("config: {} of {} moved to the store", c.id, c.product_key);
    }
  by_product_.clear();
  for (auto& c : *all) {
    auto rec = from_store(std::move(c));
    by_product_[rec.product_key].push_back(std::move(rec));
  }
}

std::optional<fs::path> config_service::file_of(std::string_view pk, std::string_view id) const {
  const auto rec = find(pk, id);
  if (!rec)
    return std::nullopt;
  auto path = path_of(id);
  std::error_code ec;
  if (fs::exists(path, ec) || shared_ == nullptr)
    return fs::exists(path, ec) ? std::optional(path) : std::nullopt;
  auto bytes = shared_->config_bytes(id);
  if (!bytes)
    return std::nullopt;
  try {
    firmware_upload up(dir_);
    if (!up.write(bytes->data(), bytes->size()) || !up.finish() || up.sha256() != rec->sha256 ||
        !up.commit(path))
      return std::nullopt;
  } catch (const std::exception& e) {
    spdlog::error("config: {}", e.what());
    return std::nullopt;
  }
  return path;
}

void config_service::reload(std::string_view pk) {
  if (shared_ == nullptr)
    return;
  auto now = shared_->configs(pk);
  if (!now) {
    spdlog::warn("config: store: the configurations of {} not read again: {}", pk,
                 now.error().message());
    return;
  }
  std::vector<config_record> fresh;
  for (auto& c : *now)
    fresh.push_back(from_store(std::move(c)));
  std::vector<std::string> gone;
  {
    std::lock_guard lock(mu_);
    auto& v = by_product_[std::string(pk)];
    for (const auto& old : v)
      if (std::none_of(fresh.begin(), fresh.end(),
                       [&](const config_record& r) { return r.id == old.id; })) {
        gone.push_back(old.id);
        pushes_.erase(old.id);
      }
    v = std::move(fresh);
    if (v.empty())
      by_product_.erase(std::string(pk));
  }
  for (const auto& id : gone) // this node's copies
    forget_files(id);
}

// A push_reply forwarded on the cluster: "<message id> <code> <deviceName>" (a device name
// has no space).
void config_service::forward_reply(std::string_view pk, std::string_view dn, std::uint64_t id,
                                   int code) {
  if (!cluster_.forward || id == 0)
    return;
  {
    std::lock_guard lock(mu_);
    const auto now = clock::now();
    const double rate = opts_.max_reply_forwards;
    forward_tokens_ =
        std::min(rate, forward_tokens_ +
                           rate * std::chrono::duration<double>(now - forward_refilled_).count());
    forward_refilled_ = now;
    if (forward_tokens_ < 1) {
      ++unforwarded_;
      return;
    }
    forward_tokens_ -= 1;
  }
  cluster_.forward(pk, std::to_string(id) + " " + std::to_string(code) + " " + std::string(dn));
}

void config_service::record_remote_reply(std::string_view pk, std::string_view note) {
  std::uint64_t id = 0;
  int code = 0;
  std::string dn;
  std::istringstream in{std::string(note)};
  if (!(in >> id >> code >> dn))
    return;
  std::shared_ptr<push_journal> journal;
  std::string line;
  {
    std::lock_guard lock(mu_);
    if (!record_reply(pk, dn, id, code, journal, line, true))
      return;
  }
  if (journal)
    (void)journal->append(line, false);
}

} // namespace thingport::platform
