// OTA firmware upgrades (docs/ota.md): the firmware files' metadata (the bytes live under the
// data dir, platform/ota_files.hpp) and the upgrade jobs with one row per device and its state.
// The tables are in the thing schema (SQLite thing schema 3, PostgreSQL schema 2; docs/
// store-format.md "OTA"): rows of a device go with it (ON DELETE CASCADE).
//
// Errors: nothing here throws on bad input; every call returns a result with a store::errc
// (not_found, storage_failure, ...). Input is checked by the callers (platform/ota_service).
//
// Threads: every member may be called from any thread; one mutex guards the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/result.hpp"

namespace thingport::store {

namespace sql {
class connection;
}
namespace pg {
struct options;
}

struct firmware_record {
  std::string id{};
  std::string product_key{};
  std::string version{};
  std::string module{};
  std::uint64_t size = 0;
  std::string md5{};          // lowercase hex
  std::string sha256{};       // lowercase hex
  std::string src_versions{}; // comma-separated; empty: any
  timestamp created{};
  friend bool operator==(const firmware_record&, const firmware_record&) = default;
};

// A remote configuration file's entry (platform/config_service.hpp), as a cluster's store
// keeps it with its bytes.
struct stored_config {
  std::string id{};
  std::string product_key{};
  std::uint64_t size = 0;
  std::string md5{}, sha256{}; // lower hex
  std::int64_t created_ms = 0;
};

enum class ota_device_state : std::uint8_t { waiting, in_progress, succeeded, failed, canceled };
enum class ota_job_state : std::uint8_t { running, done, canceled };

// "waiting", "inProgress", "succeeded", "failed", "canceled" (the API's names).
std::string_view to_string(ota_device_state s) noexcept;
std::optional<ota_device_state> parse_ota_device_state(std::string_view s) noexcept;
// "running", "done", "canceled".
std::string_view to_string(ota_job_state s) noexcept;
std::optional<ota_job_state> parse_ota_job_state(std::string_view s) noexcept;

struct ota_job_record {
  std::string id{};
  std::string product_key{};
  std::string firmware_id{};
  std::string version{}; // the firmware's, copied: an inform of it means succeeded
  std::string module{};
  ota_job_state state = ota_job_state::running;
  std::uint32_t rate_per_minute = 1000;
  std::uint32_t retries = 0;   // failed attempts that are retried
  std::int64_t timeout_ms = 0; // in progress longer than this: failed; 0 never
  timestamp created{};
  std::string download_protocol{"https"}; // or "mqtt": blocks on thing/file/download
  // When it starts (the API's scheduleTime): nothing is sent before. nullopt: at `created`.
  std::optional<timestamp> start{};
  bool started(timestamp now) const noexcept { return !start || *start <= now; }
  friend bool operator==(const ota_job_record&, const ota_job_record&) = default;
};

struct ota_device_record {
  std::string job_id{};
  std::string device_name{};
  ota_device_state state = ota_device_state::waiting;
  int progress = 0;           // the last step reported, 0..100, or the failure code (< 0)
  std::uint32_t attempts = 0; // upgrade messages sent
  std::optional<timestamp> sent{};
  timestamp updated{};
  friend bool operator==(const ota_device_record&, const ota_device_record&) = default;
};

struct ota_counts {
  std::uint64_t waiting = 0, in_progress = 0, succeeded = 0, failed = 0, canceled = 0;
  std::uint64_t open() const noexcept { return waiting + in_progress; }
};

class ota_store {
public:
  // Over a connection whose thing schema is at this build's version (the thing store's
  // constructor migrated it).
  explicit ota_store(std::unique_ptr<sql::connection> db);
  ~ota_store();
  ota_store(const ota_store&) = delete;
  ota_store& operator=(const ota_store&) = delete;

  // ---- firmware ----------------------------------------------------------------------------
  result<void> add_firmware(const firmware_record& f);
  result<firmware_record> firmware(std::string_view pk, std::string_view id) const;
  result<std::vector<firmware_record>> firmwares(std::string_view pk) const; // newest first
  // false (nothing removed) while a running job uses it; not_found when there is none.
  result<bool> delete_firmware(std::string_view pk, std::string_view id);

  // ---- the firmware bytes and the link secret, for every node (PostgreSQL only) ------------
  // A cluster's nodes each serve every firmware: the bytes are in the store too, in chunks of
  // `chunk_size` (the last one shorter), written before the firmware's row.
  static constexpr std::size_t chunk_size = 1 << 20;
  result<void> put_chunk(std::string_view firmware_id, std::uint32_t n, std::string_view bytes,
                         timestamp now);
  result<std::string> chunk(std::string_view firmware_id, std::uint32_t n) const; // not_found
  result<void> delete_chunks(std::string_view firmware_id);
  // Chunks written before `before` whose firmware has no row (an upload cut short, a firmware
  // deleted with its product): removed; how many.
  result<std::uint64_t> delete_orphan_chunks(timestamp before);
  // The secret stored under `name`; `proposed` is stored first when there is none (the first
  // node to ask sets it for all).
  result<std::string> shared_secret(std::string_view name, std::string_view proposed);
  // Remote configuration files: oldest first (of a product, or all).
  result<void> add_config(const stored_config& c, std::string_view bytes);
  result<std::vector<stored_config>> configs(std::optional<std::string_view> pk) const;
  result<std::string> config_bytes(std::string_view id) const;          // not_found
  result<void> delete_config(std::string_view pk, std::string_view id); // not_found

  // ---- jobs --------------------------------------------------------------------------------
  // The job and a waiting row per device, in one transaction.
  result<void> create_job(const ota_job_record& job, std::span<const std::string> devices,
                          timestamp now);
  result<ota_job_record> job(std::string_view pk, std::string_view id) const;
  result<std::vector<ota_job_record>> jobs(std::string_view pk) const; // newest first
  result<std::vector<ota_job_record>> running_jobs() const;
  result<ota_counts> counts(std::string_view job_id) const;
  // Ordered by device name; at most `limit` after `after` (exclusive; "" from the start).
  result<std::vector<ota_device_record>> devices(std::string_view job_id, std::string_view after,
                                                 std::size_t limit) const;
  result<std::vector<ota_device_record>> devices_in(std::string_view job_id, ota_device_state s,
                                                    std::string_view after,
                                                    std::size_t limit) const;
  // The device's open row (waiting or in progress) of a running job of its product started by
  // `now`, newest job first; nullopt when it has none.
  result<std::optional<std::pair<ota_job_record, ota_device_record>>>
  open_job_of(std::string_view pk, std::string_view dn, timestamp now) const;

  // waiting → inProgress, attempts + 1. false when the row was not waiting (nothing changed).
  result<bool> mark_sent(std::string_view job_id, std::string_view dn, timestamp now);
  // An in-progress device's step 0..100; false when not in progress.
  result<bool> set_progress(std::string_view job_id, std::string_view dn, int step, timestamp now);
  // An in-progress device failed with `code` (< 0): back to waiting while attempts <= retries,
  // else failed. The state it is in after; nullopt when it was not in progress.
  result<std::optional<ota_device_state>> fail(std::string_view job_id, std::string_view dn,
                                               int code, std::uint32_t retries, timestamp now);
  // An open device reported the job's version: succeeded, progress 100. false when not open.
  result<bool> succeed(std::string_view job_id, std::string_view dn, timestamp now);
  // In progress since before `cutoff`: their names (the caller fails them).
  result<std::vector<std::string>> overdue(std::string_view job_id, timestamp cutoff) const;
  // waiting / inProgress → canceled and the job canceled; false when the job was not running.
  result<bool> cancel_job(std::string_view pk, std::string_view id, timestamp now);
  // A running job without open rows becomes done; true when it did.
  result<bool> finish_if_done(std::string_view job_id);

private:
  mutable std::mutex mu_;
  std::unique_ptr<sql::connection> db_; // guarded by mu_
};

// On the SQLite file of the thing store (data/identity.db), on a connection of its own.
std::unique_ptr<ota_store> open_sqlite_ota_store(const std::filesystem::path& file);
// On the PostgreSQL database of the thing store.
std::unique_ptr<ota_store> open_pg_ota_store(const pg::options& opts);

} // namespace thingport::store
