// Schema migrations whose version lives in a table of the database (the SQLite thing schema's
// thing_meta, PostgreSQL's thingport_schema): one transaction that reads the version, refuses a
// newer one, and runs the steps past it, each recording its version. Internal to store/.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "store/sql_connection.hpp"

namespace thingport::store::sql {

// One schema step: takes a database at version to_version - 1 to to_version. Never edited once
// released (docs/store-format.md).
struct migration {
  int to_version;
  const char* sql;
};

struct versioned_schema {
  std::string where;                     // names the database in errors: "thing database x.db"
  std::string_view schema;               // "thing schema", "schema"
  std::string lock{};                    // run first in the transaction (nodes starting at once)
  std::string create_table;              // the version's table, IF NOT EXISTS
  std::string read_version;              // one row and column, or none (version 0)
  std::string write_version;             // ?1 the version
  std::span<const migration> migrations; // in order; the last one's version is this build's
};

// A component of a PostgreSQL database's schema ("thingport": the store's tables, "cluster": the
// cluster's; docs/store-format.md), its version in its row of thingport_schema, migrated under
// its own transaction-scoped advisory lock `lock_id` (the same for every node).
inline versioned_schema component_migration(std::string where, std::string_view schema,
                                            std::string_view component, std::int64_t lock_id,
                                            std::span<const migration> migrations) {
  const std::string name(component); // a literal of the caller's: no quoting needed
  return {.where = std::move(where),
          .schema = schema,
          .lock = "SELECT pg_advisory_xact_lock(" + std::to_string(lock_id) + ")",
          .create_table = "CREATE TABLE IF NOT EXISTS thingport_schema (component TEXT NOT NULL "
                          "PRIMARY KEY, version BIGINT NOT NULL, migrated_ms BIGINT NOT NULL)",
          .read_version = "SELECT version FROM thingport_schema WHERE component = '" + name + "'",
          .write_version = "INSERT INTO thingport_schema (component, version, migrated_ms) "
                           "VALUES ('" +
                           name +
                           "', ?1, (extract(epoch FROM clock_timestamp()) * 1000)::bigint) "
                           "ON CONFLICT (component) DO UPDATE SET version = excluded.version, "
                           "migrated_ms = excluded.migrated_ms",
          .migrations = migrations};
}

// Migrates `db` to the last step's version; the version found before. Throws open_error.
inline int migrate(connection& db, const versioned_schema& v) {
  const auto fail = [&](const std::string& what) {
    throw open_error(v.where + ": " + what + " (" + db.last_message() + ")");
  };
  const int known = v.migrations.empty() ? 0 : v.migrations.back().to_version;
  transaction tx(db);
  if (tx.begin_error() || (!v.lock.empty() && db.exec(v.lock.c_str())) ||
      db.exec(v.create_table.c_str())) {
    fail("cannot start the " + std::string(v.schema) + " migration");
  }
  auto version = first_row<std::int64_t>(
      db, v.read_version.c_str(), [](statement&) {}, [](const statement& s) { return s.int64(0); });
  if (!version) {
    fail("cannot read the " + std::string(v.schema) + " version");
  }
  const std::int64_t have = version->value_or(0);
  if (have > known) {
    throw open_error(v.where + " has " + std::string(v.schema) + " version " +
                     std::to_string(have) + ", newer than this build of thingport knows (" +
                     std::to_string(known) +
                     "); run the thingport version that wrote it, or a newer one");
  }
  for (const migration& m : v.migrations) {
    if (m.to_version <= have) {
      continue;
    }
    if (db.exec(m.sql) || run(db, v.write_version.c_str(),
                              [&](statement& s) { s.bind(1, std::int64_t{m.to_version}); })) {
      fail(std::string(v.schema) + " migration to version " + std::to_string(m.to_version) +
           " failed");
    }
  }
  if (tx.commit()) {
    fail("cannot commit the " + std::string(v.schema) + " migration");
  }
  return static_cast<int>(have);
}

} // namespace thingport::store::sql
