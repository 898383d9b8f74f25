#include "store/sqlite_connection.hpp"

#include <sqlite3.h>

#include <filesystem>
#include <string>

namespace thingport::store::sqlite {

namespace {

// Schema version 1 (docs/store-format.md). Migrations only ever append: step N takes a
// database at version N-1 to version N and never changes.
constexpr const char* schema_v1 = R"sql(
CREATE TABLE product (
  product_key          TEXT    NOT NULL PRIMARY KEY,
  product_secret       TEXT    NOT NULL,
  name                 TEXT    NOT NULL,
  dynamic_registration INTEGER NOT NULL DEFAULT 0 CHECK (dynamic_registration IN (0, 1)),
  created_ms           INTEGER NOT NULL,
  thing_model          TEXT
) STRICT;

CREATE TABLE topic_class (
  id          INTEGER PRIMARY KEY,
  product_key TEXT    NOT NULL REFERENCES product (product_key) ON DELETE CASCADE,
  topic       TEXT    NOT NULL,
  access      TEXT    NOT NULL CHECK (access IN ('pub', 'sub', 'all')),
  created_ms  INTEGER NOT NULL,
  UNIQUE (product_key, topic)
) STRICT;

CREATE TABLE device (
  product_key     TEXT    NOT NULL REFERENCES product (product_key) ON DELETE CASCADE,
  device_name     TEXT    NOT NULL,
  device_secret   TEXT    NOT NULL,
  enabled         INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  created_ms      INTEGER NOT NULL,
  first_online_ms INTEGER,
  last_online_ms  INTEGER,
  last_offline_ms INTEGER,
  last_ip         TEXT    NOT NULL DEFAULT '',
  device_token    TEXT,
  PRIMARY KEY (product_key, device_name)
) STRICT, WITHOUT ROWID;

CREATE TABLE application (
  app_key    TEXT    NOT NULL PRIMARY KEY,
  app_secret TEXT    NOT NULL,
  name       TEXT    NOT NULL,
  enabled    INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  created_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE application_product (
  app_key     TEXT NOT NULL REFERENCES application (app_key) ON DELETE CASCADE,
  product_key TEXT NOT NULL REFERENCES product (product_key) ON DELETE CASCADE,
  PRIMARY KEY (app_key, product_key)
) STRICT, WITHOUT ROWID;

CREATE INDEX application_product_by_product ON application_product (product_key);
)sql";

// Version 2: a product's node type (device, gateway or sub-device); existing products are devices.
constexpr const char* schema_v2 = R"sql(
ALTER TABLE product ADD COLUMN node_type TEXT NOT NULL DEFAULT 'device'
  CHECK (node_type IN ('device', 'gateway', 'subdevice'));
)sql";

// Version 3: gateway topology, one gateway per sub-device; rows go with either device.
constexpr const char* schema_v3 = R"sql(
CREATE TABLE topology (
  product_key    TEXT    NOT NULL,
  device_name    TEXT    NOT NULL,
  gateway_pk     TEXT    NOT NULL,
  gateway_dn     TEXT    NOT NULL,
  created_ms     INTEGER NOT NULL,
  PRIMARY KEY (product_key, device_name),
  FOREIGN KEY (product_key, device_name) REFERENCES device (product_key, device_name)
    ON DELETE CASCADE,
  FOREIGN KEY (gateway_pk, gateway_dn) REFERENCES device (product_key, device_name)
    ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX topology_by_gateway ON topology (gateway_pk, gateway_dn, product_key, device_name);
)sql";

constexpr migration migrations[] = {{1, schema_v1}, {2, schema_v2}, {3, schema_v3}};
static_assert(std::size(migrations) == schema_version);
constexpr schema_spec identity_spec{"identity database", application_id, migrations, true};

std::string_view column_text(sqlite3_stmt* s, int col) noexcept {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
  if (p == nullptr) {
    return {};
  }
  return {p, static_cast<std::size_t>(sqlite3_column_bytes(s, col))};
}

} // namespace

const schema_spec& identity_schema() noexcept {
  return identity_spec;
}

std::error_code to_error(int rc) noexcept {
  switch (rc) {
  case SQLITE_OK:
  case SQLITE_DONE:
  case SQLITE_ROW:
    return {};
  case SQLITE_CONSTRAINT_PRIMARYKEY:
  case SQLITE_CONSTRAINT_UNIQUE:
    return errc::already_exists;
  case SQLITE_CONSTRAINT_FOREIGNKEY:
    return errc::not_found;
  default:
    break;
  }
  switch (rc & 0xff) {
  case SQLITE_CORRUPT:
  case SQLITE_NOTADB:
    return errc::corrupt;
  default:
    return errc::storage_failure;
  }
}

// ---- statement ------------------------------------------------------------------------------

class connection::cursor final : public sql::cursor {
public:
  explicit cursor(sqlite3_stmt* s) noexcept : s_(s) {}
  ~cursor() override { sqlite3_finalize(s_); }
  cursor(const cursor&) = delete;
  cursor& operator=(const cursor&) = delete;

  void bind_text(int i, std::string_view text) noexcept override {
    // A null data pointer would bind NULL, not the empty string.
    const char* p = text.data() != nullptr ? text.data() : "";
    note(sqlite3_bind_text(s_, i, p, static_cast<int>(text.size()), SQLITE_STATIC));
  }
  void bind_int(int i, std::int64_t v) noexcept override { note(sqlite3_bind_int64(s_, i, v)); }
  void bind_null(int i) noexcept override { note(sqlite3_bind_null(s_, i)); }
  void bind_blob(int i, std::string_view bytes) noexcept override {
    // A null pointer would bind NULL, not the empty blob.
    const char* p = bytes.data() != nullptr ? bytes.data() : "";
    note(sqlite3_bind_blob64(s_, i, p, bytes.size(), SQLITE_STATIC));
  }
  result<bool> step() noexcept override {
    const int rc = bind_rc_ != SQLITE_OK ? bind_rc_ : sqlite3_step(s_);
    if (rc == SQLITE_ROW) {
      return true;
    }
    if (rc == SQLITE_DONE) {
      return false;
    }
    return result<bool>(boost::system::in_place_error, to_error(rc));
  }
  void rewind() noexcept override { sqlite3_reset(s_); }
  void release() noexcept override {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
    bind_rc_ = SQLITE_OK;
  }
  bool is_null(int col) const noexcept override {
    return sqlite3_column_type(s_, col) == SQLITE_NULL;
  }
  std::string_view text(int col) const noexcept override { return column_text(s_, col); }
  std::string blob(int col) const override {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(s_, col));
    if (p == nullptr) {
      return {};
    }
    return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col)));
  }
  std::int64_t int64(int col) const noexcept override { return sqlite3_column_int64(s_, col); }

private:
  void note(int rc) noexcept {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) {
      bind_rc_ = rc;
    }
  }

  sqlite3_stmt* s_;
  int bind_rc_ = SQLITE_OK;
};

// ---- connection -----------------------------------------------------------------------------

void refuse_empty(const std::filesystem::path& file, std::string_view what) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(file, ec) && std::filesystem::file_size(file, ec) == 0 &&
      !ec) {
    throw open_error(std::string(what) + " " + file.string() +
                     " is empty (0 bytes): refusing to start from nothing in its place; "
                     "restore it from a backup, or remove it to start afresh");
  }
}

connection::connection(const std::filesystem::path& file, std::chrono::milliseconds busy_timeout)
    : connection(file, busy_timeout, identity_spec) {}

connection::connection(const std::filesystem::path& file, std::chrono::milliseconds busy_timeout,
                       const schema_spec& spec)
    : spec_(spec) {
  refuse_empty(file, spec_.what);
  // NOMUTEX: the owner serialises; EXRESCODE: tell key conflicts from foreign keys.
  const int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  const int rc = sqlite3_open_v2(file.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    // A failed open still allocates a handle that carries the message.
    const std::string why = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw open_error("cannot open " + std::string(spec_.what) + " " + file.string() + ": " + why);
  }
  try {
    configure(file, busy_timeout);
    migrate(file);
  } catch (...) {
    close();
    throw;
  }
}

connection::~connection() {
  close();
}

void connection::close() noexcept {
  // An unfinalized statement would keep the connection alive as a zombie.
  cache_.clear();
  // Closing the last connection checkpoints the WAL into the database file.
  sqlite3_close_v2(db_);
  db_ = nullptr;
}

void connection::fail(const std::filesystem::path& file, std::string_view what) const {
  throw open_error(std::string(spec_.what) + " " + file.string() + ": " + std::string(what) + " (" +
                   sqlite3_errmsg(db_) + ")");
}

void connection::configure(const std::filesystem::path& file,
                           std::chrono::milliseconds busy_timeout) {
  sqlite3_busy_timeout(db_, static_cast<int>(busy_timeout.count()));
  // Refuse writes that could corrupt the file through SQL (writable_schema and the like).
  sqlite3_db_config(db_, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db_, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);

  // The first statement that reads the file: garbage shows up here as "file is not a database".
  {
    auto version = prepare("PRAGMA user_version");
    if (!version || !sql::has_row(version->step())) {
      fail(file, "not a usable SQLite database");
    }
  }
  if (exec("PRAGMA foreign_keys = ON")) {
    fail(file, "cannot enable foreign keys");
  }
  {
    auto mode = prepare("PRAGMA journal_mode = WAL");
    if (!mode || !sql::has_row(mode->step()) || mode->text(0) != "wal") {
      fail(file, "cannot switch to WAL journal mode");
    }
  }
  // Identity data is acknowledged to an admin: a commit must survive power loss, not only a
  // crash of the process (NORMAL would only promise the latter in WAL mode).
  if (exec(spec_.synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")) {
    fail(file, "cannot set synchronous");
  }
}

void connection::migrate(const std::filesystem::path& file) {
  // Read the version inside the write transaction: another process may be migrating too.
  transaction tx(*this);
  if (tx.begin_error()) {
    fail(file, "cannot start the schema migration");
  }
  auto read_int = [&](const char* sql) -> std::int64_t {
    auto s = prepare(sql);
    if (!s || !sql::has_row(s->step())) {
      fail(file, std::string("cannot read ") + sql);
    }
    return s->int64(0);
  };
  const std::int64_t version = read_int("PRAGMA user_version");
  const std::int64_t app_id = read_int("PRAGMA application_id");
  const int known = spec_.migrations.empty() ? 0 : spec_.migrations.back().to_version;
  const std::string what(spec_.what);
  if (version > known) {
    throw open_error(what + " " + file.string() + " has schema version " + std::to_string(version) +
                     ", newer than this build of thingport knows (" + std::to_string(known) +
                     "); run the thingport version that wrote it, or a newer one");
  }
  if (version == 0) {
    if (read_int("SELECT count(*) FROM sqlite_schema") != 0) {
      throw open_error(what + " " + file.string() +
                       " has tables but no schema version: not a thingport database");
    }
    if (exec(("PRAGMA application_id = " + std::to_string(spec_.application_id)).c_str())) {
      fail(file, "cannot set the application id");
    }
  } else if (app_id != spec_.application_id) {
    throw open_error(what + " " + file.string() +
                     " belongs to another application (application_id " + std::to_string(app_id) +
                     ")");
  }
  for (const migration& m : spec_.migrations) {
    if (m.to_version <= version) {
      continue;
    }
    if (exec(m.sql)) {
      fail(file, "schema migration to version " + std::to_string(m.to_version) + " failed");
    }
    if (exec(("PRAGMA user_version = " + std::to_string(m.to_version)).c_str())) {
      fail(file, "cannot record schema version " + std::to_string(m.to_version));
    }
  }
  if (tx.commit()) {
    fail(file, "cannot commit the schema migration");
  }
}

result<statement> connection::prepare(const char* sql) noexcept {
  auto& slot = cache_[sql];
  if (slot == nullptr) {
    sqlite3_stmt* s = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(s);
      cache_.erase(sql);
      return to_error(rc);
    }
    try {
      slot = std::make_unique<cursor>(s);
    } catch (...) {
      sqlite3_finalize(s);
      cache_.erase(sql);
      return make_error_code(errc::storage_failure);
    }
  }
  return statement(slot.get());
}

std::error_code connection::exec(const char* sql) noexcept {
  return to_error(sqlite3_exec(db_, sql, nullptr, nullptr, nullptr));
}

std::int64_t connection::changes() const noexcept {
  return sqlite3_changes64(db_);
}

std::error_code connection::begin(bool write) noexcept {
  return exec(write ? "BEGIN IMMEDIATE" : "BEGIN");
}

bool connection::in_transaction() const noexcept {
  return sqlite3_get_autocommit(db_) == 0;
}

std::string connection::last_message() const {
  return sqlite3_errmsg(db_);
}

} // namespace thingport::store::sqlite
