// One SQLite connection for the store's SQLite backends, as sql::connection
// (sql_connection.hpp): opening with the pragmas the store needs, cached prepared statements,
// the schema migration and the mapping of SQLite result codes to store::errc. Internal to store/.
//
// Threads: none of this is synchronised. The owner (sqlite_identity_store) serialises every use
// of a connection and of the statements it hands out with its own mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>

#include "store/identity_store.hpp"
#include "store/sql_connection.hpp"
#include "store/sql_migrate.hpp"

struct sqlite3;

namespace thingport::store::sqlite {

// A SQLite result code (extended) as a store error: constraint on a key → already_exists,
// foreign key → not_found, damaged file → corrupt, anything else → storage_failure.
std::error_code to_error(int rc) noexcept;

using sql::statement;
using sql::transaction;

// The schema version this build writes and understands (docs/store-format.md).
inline constexpr int schema_version = 3;
// PRAGMA application_id of a thingport identity database: "TPid".
inline constexpr std::int32_t application_id = 0x54506964;

using sql::migration;

// What a database file holds, for a connection to create, check and migrate it.
struct schema_spec {
  std::string_view what;                 // "identity database": names the file in errors
  std::int32_t application_id;           // PRAGMA application_id of our files of this kind
  std::span<const migration> migrations; // in order; the last one's version is this build's
  bool synchronous_full = true;          // FULL, or NORMAL (a crash of the process loses
                                         // nothing, a power loss may lose the last commits)
};

// The identity database's spec (schema_version, application_id above).
const schema_spec& identity_schema() noexcept;

// SQLite takes a 0-byte file for a new, empty database: that would be a silent fresh start with
// every device gone (a truncated copy, a full disk at the wrong moment). Throws open_error
// naming `file` (`what`: "identity database", ...) when it exists and is empty; a missing file
// is fine (first run).
void refuse_empty(const std::filesystem::path& file, std::string_view what);

class connection final : public sql::connection {
public:
  // Opens or creates `file` (its directory must exist): WAL, synchronous=FULL, foreign keys,
  // the busy timeout; then migrates the schema to schema_version. Throws store::open_error
  // with the file name and the reason.
  connection(const std::filesystem::path& file, std::chrono::milliseconds busy_timeout);
  // The same for another kind of database file.
  connection(const std::filesystem::path& file, std::chrono::milliseconds busy_timeout,
             const schema_spec& spec);
  ~connection() override;

  result<statement> prepare(const char* sql) noexcept override;
  std::error_code exec(const char* sql) noexcept override;
  std::error_code begin(bool write) noexcept override;
  std::int64_t changes() const noexcept override;
  bool in_transaction() const noexcept override;
  std::string last_message() const override;

private:
  class cursor;

  void configure(const std::filesystem::path& file, std::chrono::milliseconds busy_timeout);
  void migrate(const std::filesystem::path& file);
  void close() noexcept;
  [[noreturn]] void fail(const std::filesystem::path& file, std::string_view what) const;

  const schema_spec& spec_;
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, std::unique_ptr<cursor>> cache_;
};

} // namespace thingport::store::sqlite
