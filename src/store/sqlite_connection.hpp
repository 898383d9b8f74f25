// A thin RAII layer over one SQLite connection for the store's SQLite backends: opening with
// the pragmas the store needs, cached prepared statements, transactions, the schema migration
// and the mapping of SQLite result codes to store::errc. Internal to store/.
//
// Threads: none of this is synchronised. The owner (sqlite_identity_store) serialises every use
// of a connection and of the statements it hands out with its own mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>

#include "store/identity_store.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace thingport::store::sqlite {

// A SQLite result code (extended) as a store error: constraint on a key → already_exists,
// foreign key → not_found, damaged file → corrupt, anything else → storage_failure.
std::error_code to_error(int rc) noexcept;

// A cached statement borrowed for one use: bind, step, read columns. Reset and unbound when it
// goes out of scope, so the next user starts clean. Text bound from a string_view is not
// copied: it must outlive the statement object.
class statement {
public:
  explicit statement(sqlite3_stmt* s) noexcept : s_(s) {}
  statement(statement&& other) noexcept : s_(other.s_), bind_rc_(other.bind_rc_) {
    other.s_ = nullptr;
  }
  statement& operator=(statement&&) = delete;
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  ~statement();

  // Parameters are 1-based, as in the SQL (?1, ?2...).
  statement& bind(int i, std::string_view text) noexcept;
  statement& bind(int i, const std::string& text) noexcept {
    return bind(i, std::string_view(text));
  }
  statement& bind(int i, std::int64_t v) noexcept;
  statement& bind(int i, bool v) noexcept { return bind(i, std::int64_t{v ? 1 : 0}); }
  statement& bind(int i, timestamp t) noexcept { return bind(i, t.time_since_epoch().count()); }
  statement& bind(int i, std::optional<std::string_view> text) noexcept;
  statement& bind_null(int i) noexcept;
  // Bytes as a BLOB (binary payloads); not copied either.
  statement& bind_blob(int i, std::string_view bytes) noexcept;

  // SQLITE_ROW, SQLITE_DONE, or an error code (also a failed bind before it).
  int step() noexcept;
  // Steps a statement that returns no rows; an error_code unless it ran to completion.
  std::error_code run() noexcept;
  // Ready to step again (bindings kept), for the rows of a batch.
  void reset() noexcept;

  // Columns are 0-based. text() of NULL is empty.
  bool is_null(int col) const noexcept;
  std::string text(int col) const;
  std::string blob(int col) const;
  std::optional<std::string> optional_text(int col) const;
  std::int64_t int64(int col) const noexcept;
  bool boolean(int col) const noexcept { return int64(col) != 0; }
  timestamp time(int col) const noexcept;
  std::optional<timestamp> optional_time(int col) const noexcept;

private:
  sqlite3_stmt* s_;
  int bind_rc_ = 0; // SQLITE_OK
};

// The schema version this build writes and understands (docs/store-format.md).
inline constexpr int schema_version = 3;
// PRAGMA application_id of a thingport identity database: "TPid".
inline constexpr std::int32_t application_id = 0x54506964;

// One schema step: takes a database at version to_version - 1 to to_version. Never edited once
// released (docs/store-format.md).
struct migration {
  int to_version;
  const char* sql;
};

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

class connection {
public:
  // Opens or creates `file` (its directory must exist): WAL, synchronous=FULL, foreign keys,
  // the busy timeout; then migrates the schema to schema_version. Throws store::open_error
  // with the file name and the reason.
  connection(const std::filesystem::path& file, std::chrono::milliseconds busy_timeout);
  // The same for another kind of database file.
  connection(const std::filesystem::path& file, std::chrono::milliseconds busy_timeout,
             const schema_spec& spec);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // The statement for `sql`, prepared on first use and kept until the connection closes.
  // `sql` must be a string with static storage duration (it is the cache key). One borrower
  // per statement at a time: borrowing it again resets the first borrower's rows.
  result<statement> prepare(const char* sql) noexcept;

  // Runs statements without results (BEGIN, COMMIT, DDL).
  std::error_code exec(const char* sql) noexcept;
  std::int64_t changes() const noexcept;
  bool in_transaction() const noexcept;
  std::string last_message() const;

private:
  void configure(const std::filesystem::path& file, std::chrono::milliseconds busy_timeout);
  void migrate(const std::filesystem::path& file);
  void close() noexcept;
  [[noreturn]] void fail(const std::filesystem::path& file, std::string_view what) const;

  const schema_spec& spec_;
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

// BEGIN IMMEDIATE (a write transaction: the write lock is taken at once, so the busy timeout
// applies here and not halfway through) or BEGIN (a read snapshot). Rolled back on scope exit
// unless commit() succeeded.
class transaction {
public:
  enum class kind : std::uint8_t { read, write };
  explicit transaction(connection& db, kind k = kind::write) noexcept;
  ~transaction();
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;

  // The error of BEGIN, if it failed; nothing else may be done then.
  std::error_code begin_error() const noexcept { return begin_ec_; }
  std::error_code commit() noexcept;

private:
  connection& db_;
  std::error_code begin_ec_;
  bool open_ = false;
};

} // namespace thingport::store::sqlite
