#include "store/ota_store.hpp"

#include <array>
#include <utility>

#include "store/ota_sql.hpp"
#include "store/pg_connection.hpp"
#include "store/sql_connection.hpp"
#include "store/sqlite_connection.hpp"

namespace thingport::store {

using sql::statement;
using namespace sql; // run, rows, first_row, ...
namespace oq = ota_sql;

namespace {

constexpr std::array<std::string_view, 5> device_state_names = {"waiting", "inProgress",
                                                                "succeeded", "failed", "canceled"};
constexpr std::array<std::string_view, 3> job_state_names = {"running", "done", "canceled"};

firmware_record read_firmware(const statement& s) {
  return {.id = s.text(0),
          .product_key = s.text(1),
          .version = s.text(2),
          .module = s.text(3),
          .size = static_cast<std::uint64_t>(s.int64(4)),
          .md5 = s.text(5),
          .sha256 = s.text(6),
          .src_versions = s.text(7),
          .created = s.time(8)};
}

// The job's columns from `at` on (TP_JOB_COLUMNS).
ota_job_record read_job(const statement& s, int at = 0) {
  return {.id = s.text(at),
          .product_key = s.text(at + 1),
          .firmware_id = s.text(at + 2),
          .version = s.text(at + 3),
          .module = s.text(at + 4),
          .state = parse_ota_job_state(s.text(at + 5)).value_or(ota_job_state::done),
          .rate_per_minute = static_cast<std::uint32_t>(s.int64(at + 6)),
          .retries = static_cast<std::uint32_t>(s.int64(at + 7)),
          .timeout_ms = s.int64(at + 8),
          .created = s.time(at + 9),
          .download_protocol = s.text(at + 10),
          .start = s.optional_time(at + 11)};
}

// TP_JD_COLUMNS from `at` on.
ota_device_record read_device(const statement& s, int at = 0) {
  return {.job_id = s.text(at),
          .device_name = s.text(at + 1),
          .state = parse_ota_device_state(s.text(at + 2)).value_or(ota_device_state::failed),
          .progress = static_cast<int>(s.int64(at + 3)),
          .attempts = static_cast<std::uint32_t>(s.int64(at + 4)),
          .sent = s.optional_time(at + 5),
          .updated = s.time(at + 6)};
}

// An error as a result<T> whose T converts from an error_code too (bool, optional).
template <typename T> result<T> err(std::error_code ec) {
  return result<T>(boost::system::in_place_error, ec);
}

// An UPDATE touching at most one row: whether it did.
template <typename Bind> result<bool> changed(sql::connection& db, const char* text, Bind&& bind) {
  if (auto ec = run(db, text, bind))
    return err<bool>(ec);
  return db.changes() > 0;
}

} // namespace

std::string_view to_string(ota_device_state s) noexcept {
  return device_state_names[static_cast<std::size_t>(s)];
}

std::optional<ota_device_state> parse_ota_device_state(std::string_view s) noexcept {
  for (std::size_t i = 0; i < device_state_names.size(); ++i)
    if (device_state_names[i] == s)
      return static_cast<ota_device_state>(i);
  return std::nullopt;
}

std::string_view to_string(ota_job_state s) noexcept {
  return job_state_names[static_cast<std::size_t>(s)];
}

std::optional<ota_job_state> parse_ota_job_state(std::string_view s) noexcept {
  for (std::size_t i = 0; i < job_state_names.size(); ++i)
    if (job_state_names[i] == s)
      return static_cast<ota_job_state>(i);
  return std::nullopt;
}

ota_store::ota_store(std::unique_ptr<sql::connection> db) : db_(std::move(db)) {}
ota_store::~ota_store() = default;

// ---- firmware -------------------------------------------------------------------------------

result<void> ota_store::add_firmware(const firmware_record& f) {
  std::lock_guard lock(mu_);
  if (auto ec = run(*db_, oq::insert_firmware, [&](statement& s) {
        s.bind(1, f.id).bind(2, f.product_key).bind(3, f.version).bind(4, f.module);
        s.bind(5, static_cast<std::int64_t>(f.size)).bind(6, f.md5).bind(7, f.sha256);
        s.bind(8, f.src_versions).bind(9, f.created);
      }))
    return ec;
  return {};
}

result<firmware_record> ota_store::firmware(std::string_view pk, std::string_view id) const {
  std::lock_guard lock(mu_);
  return one_row<firmware_record>(
      *db_, oq::firmware, [&](statement& s) { s.bind(1, pk).bind(2, id); }, read_firmware);
}

result<std::vector<firmware_record>> ota_store::firmwares(std::string_view pk) const {
  std::lock_guard lock(mu_);
  return rows<firmware_record>(
      *db_, oq::firmwares, [&](statement& s) { s.bind(1, pk); }, read_firmware);
}

result<bool> ota_store::delete_firmware(std::string_view pk, std::string_view id) {
  std::lock_guard lock(mu_);
  transaction tx(*db_);
  if (auto ec = tx.begin_error())
    return err<bool>(ec);
  auto used = returning(*db_, oq::firmware_in_use, [&](statement& s) { s.bind(1, id); });
  if (!used)
    return err<bool>(used.error());
  if (*used > 0)
    return false;
  if (auto r =
          change_one(*db_, oq::delete_firmware, [&](statement& s) { s.bind(1, pk).bind(2, id); });
      !r)
    return err<bool>(r.error());
  if (auto ec = tx.commit())
    return err<bool>(ec);
  return true;
}

// ---- the firmware bytes and the link secret -------------------------------------------------

result<void> ota_store::put_chunk(std::string_view firmware_id, std::uint32_t n,
                                  std::string_view bytes, timestamp now) {
  std::lock_guard lock(mu_);
  if (auto ec = run(*db_, oq::insert_chunk, [&](statement& s) {
        s.bind(1, firmware_id).bind(2, std::int64_t{n}).bind_blob(3, bytes).bind(4, now);
      }))
    return ec;
  return {};
}

result<std::string> ota_store::chunk(std::string_view firmware_id, std::uint32_t n) const {
  std::lock_guard lock(mu_);
  return one_row<std::string>(
      *db_, oq::chunk, [&](statement& s) { s.bind(1, firmware_id).bind(2, std::int64_t{n}); },
      [](const statement& s) { return s.blob(0); });
}

result<void> ota_store::delete_chunks(std::string_view firmware_id) {
  std::lock_guard lock(mu_);
  if (auto ec = run(*db_, oq::delete_chunks, [&](statement& s) { s.bind(1, firmware_id); }))
    return ec;
  return {};
}

result<std::uint64_t> ota_store::delete_orphan_chunks(timestamp before) {
  std::lock_guard lock(mu_);
  if (auto ec = run(*db_, oq::delete_orphan_chunks, [&](statement& s) { s.bind(1, before); }))
    return ec;
  return static_cast<std::uint64_t>(db_->changes());
}

result<std::string> ota_store::shared_secret(std::string_view name, std::string_view proposed) {
  std::lock_guard lock(mu_);
  if (auto ec =
          run(*db_, oq::propose_secret, [&](statement& s) { s.bind(1, name).bind(2, proposed); }))
    return ec;
  return one_row<std::string>(
      *db_, oq::secret, [&](statement& s) { s.bind(1, name); },
      [](const statement& s) { return s.text(0); });
}

result<void> ota_store::add_config(const stored_config& c, std::string_view bytes) {
  std::lock_guard lock(mu_);
  if (auto ec = run(*db_, oq::insert_config, [&](statement& s) {
        s.bind(1, c.id).bind(2, c.product_key).bind(3, static_cast<std::int64_t>(c.size));
        s.bind(4, c.md5).bind(5, c.sha256).bind(6, c.created_ms).bind_blob(7, bytes);
      }))
    return ec;
  return {};
}

result<std::vector<stored_config>> ota_store::configs(std::optional<std::string_view> pk) const {
  std::lock_guard lock(mu_);
  const auto read = [](const statement& s) {
    return stored_config{.id = s.text(0),
                         .product_key = s.text(1),
                         .size = static_cast<std::uint64_t>(s.int64(2)),
                         .md5 = s.text(3),
                         .sha256 = s.text(4),
                         .created_ms = s.int64(5)};
  };
  if (pk)
    return rows<stored_config>(
        *db_, oq::configs_of, [&](statement& s) { s.bind(1, *pk); }, read);
  return rows<stored_config>(
      *db_, oq::all_configs, [](statement&) {}, read);
}

result<std::string> ota_store::config_bytes(std::string_view id) const {
  std::lock_guard lock(mu_);
  return one_row<std::string>(
      *db_, oq::config_bytes, [&](statement& s) { s.bind(1, id); },
      [](const statement& s) { return s.blob(0); });
}

result<void> ota_store::delete_config(std::string_view pk, std::string_view id) {
  std::lock_guard lock(mu_);
  return change_one(*db_, oq::delete_config, [&](statement& s) { s.bind(1, pk).bind(2, id); });
}

// ---- jobs -----------------------------------------------------------------------------------

result<void> ota_store::create_job(const ota_job_record& j, std::span<const std::string> devices,
                                   timestamp now) {
  std::lock_guard lock(mu_);
  transaction tx(*db_);
  if (auto ec = tx.begin_error())
    return ec;
  if (auto ec = run(*db_, oq::insert_job, [&](statement& s) {
        s.bind(1, j.id).bind(2, j.product_key).bind(3, j.firmware_id).bind(4, j.version);
        s.bind(5, j.module).bind(6, to_string(j.state));
        s.bind(7, std::int64_t{j.rate_per_minute}).bind(8, std::int64_t{j.retries});
        s.bind(9, j.timeout_ms).bind(10, j.created).bind(11, j.download_protocol);
        if (j.start)
          s.bind(12, *j.start);
        else
          s.bind_null(12);
      }))
    return ec;
  if (auto ec =
          run_each(*db_, devices, oq::insert_job_device, [&](statement& s, const std::string& dn) {
            s.bind(1, j.id).bind(2, j.product_key).bind(3, dn).bind(4, now);
          }))
    return ec;
  if (auto ec = tx.commit())
    return ec;
  return {};
}

result<ota_job_record> ota_store::job(std::string_view pk, std::string_view id) const {
  std::lock_guard lock(mu_);
  return one_row<ota_job_record>(
      *db_, oq::job, [&](statement& s) { s.bind(1, pk).bind(2, id); },
      [](const statement& s) { return read_job(s); });
}

result<std::vector<ota_job_record>> ota_store::jobs(std::string_view pk) const {
  std::lock_guard lock(mu_);
  return rows<ota_job_record>(
      *db_, oq::jobs, [&](statement& s) { s.bind(1, pk); },
      [](const statement& s) { return read_job(s); });
}

result<std::vector<ota_job_record>> ota_store::running_jobs() const {
  std::lock_guard lock(mu_);
  return rows<ota_job_record>(
      *db_, oq::running_jobs, [](statement&) {}, [](const statement& s) { return read_job(s); });
}

result<ota_counts> ota_store::counts(std::string_view job_id) const {
  std::lock_guard lock(mu_);
  auto by_state = rows<std::pair<std::string, std::int64_t>>(
      *db_, oq::counts, [&](statement& s) { s.bind(1, job_id); },
      [](const statement& s) {
        return std::pair{s.text(0), s.int64(1)};
      });
  if (!by_state)
    return by_state.error();
  ota_counts c;
  for (const auto& [state, n] : *by_state) {
    const auto k = static_cast<std::uint64_t>(n);
    switch (parse_ota_device_state(state).value_or(ota_device_state::failed)) {
    case ota_device_state::waiting:
      c.waiting += k;
      break;
    case ota_device_state::in_progress:
      c.in_progress += k;
      break;
    case ota_device_state::succeeded:
      c.succeeded += k;
      break;
    case ota_device_state::failed:
      c.failed += k;
      break;
    case ota_device_state::canceled:
      c.canceled += k;
      break;
    }
  }
  return c;
}

result<std::vector<ota_device_record>>
ota_store::devices(std::string_view job_id, std::string_view after, std::size_t limit) const {
  std::lock_guard lock(mu_);
  return rows<ota_device_record>(
      *db_, oq::devices,
      [&](statement& s) { s.bind(1, job_id).bind(2, after).bind(3, to_sql(limit)); },
      [](const statement& s) { return read_device(s); });
}

result<std::vector<ota_device_record>> ota_store::devices_in(std::string_view job_id,
                                                             ota_device_state st,
                                                             std::string_view after,
                                                             std::size_t limit) const {
  std::lock_guard lock(mu_);
  return rows<ota_device_record>(
      *db_, oq::devices_in,
      [&](statement& s) {
        s.bind(1, job_id).bind(2, after).bind(3, to_sql(limit)).bind(4, to_string(st));
      },
      [](const statement& s) { return read_device(s); });
}

result<std::optional<std::pair<ota_job_record, ota_device_record>>>
ota_store::open_job_of(std::string_view pk, std::string_view dn, timestamp now) const {
  std::lock_guard lock(mu_);
  return first_row<std::pair<ota_job_record, ota_device_record>>(
      *db_, oq::open_job_of, [&](statement& s) { s.bind(1, pk).bind(2, dn).bind(3, now); },
      [](const statement& s) {
        return std::pair{read_job(s, 0), read_device(s, 12)};
      });
}

result<bool> ota_store::mark_sent(std::string_view job_id, std::string_view dn, timestamp now) {
  std::lock_guard lock(mu_);
  return changed(*db_, oq::mark_sent,
                 [&](statement& s) { s.bind(1, job_id).bind(2, dn).bind(3, now); });
}

result<bool> ota_store::set_progress(std::string_view job_id, std::string_view dn, int step,
                                     timestamp now) {
  std::lock_guard lock(mu_);
  return changed(*db_, oq::set_progress, [&](statement& s) {
    s.bind(1, job_id).bind(2, dn).bind(3, std::int64_t{step}).bind(4, now);
  });
}

result<std::optional<ota_device_state>> ota_store::fail(std::string_view job_id,
                                                        std::string_view dn, int code,
                                                        std::uint32_t retries, timestamp now) {
  std::lock_guard lock(mu_);
  auto row = first_row<std::string>(
      *db_, oq::fail,
      [&](statement& s) {
        s.bind(1, job_id).bind(2, dn).bind(3, std::int64_t{code}).bind(4, std::int64_t{retries});
        s.bind(5, now);
      },
      [](const statement& s) { return s.text(0); });
  if (!row)
    return err<std::optional<ota_device_state>>(row.error());
  if (!*row)
    return std::optional<ota_device_state>{};
  return parse_ota_device_state(**row);
}

result<bool> ota_store::succeed(std::string_view job_id, std::string_view dn, timestamp now) {
  std::lock_guard lock(mu_);
  return changed(*db_, oq::succeed,
                 [&](statement& s) { s.bind(1, job_id).bind(2, dn).bind(3, now); });
}

result<std::vector<std::string>> ota_store::overdue(std::string_view job_id,
                                                    timestamp cutoff) const {
  std::lock_guard lock(mu_);
  return rows<std::string>(
      *db_, oq::overdue, [&](statement& s) { s.bind(1, job_id).bind(2, cutoff); },
      [](const statement& s) { return s.text(0); });
}

result<bool> ota_store::cancel_job(std::string_view pk, std::string_view id, timestamp now) {
  std::lock_guard lock(mu_);
  transaction tx(*db_);
  if (auto ec = tx.begin_error())
    return err<bool>(ec);
  auto was_running =
      changed(*db_, oq::cancel_job, [&](statement& s) { s.bind(1, pk).bind(2, id); });
  if (!was_running)
    return err<bool>(was_running.error());
  if (!*was_running)
    return false;
  if (auto ec = run(*db_, oq::cancel_devices, [&](statement& s) { s.bind(1, id).bind(2, now); }))
    return err<bool>(ec);
  if (auto ec = tx.commit())
    return err<bool>(ec);
  return true;
}

result<bool> ota_store::finish_if_done(std::string_view job_id) {
  std::lock_guard lock(mu_);
  return changed(*db_, oq::finish_if_done, [&](statement& s) { s.bind(1, job_id); });
}

std::unique_ptr<ota_store> open_sqlite_ota_store(const std::filesystem::path& file) {
  return std::make_unique<ota_store>(
      std::make_unique<sqlite::connection>(file, std::chrono::milliseconds(5000)));
}

std::unique_ptr<ota_store> open_pg_ota_store(const pg::options& opts) {
  return std::make_unique<ota_store>(std::make_unique<pg::connection>(opts));
}

} // namespace thingport::store
