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
  const char* lock = nullptr;            // run first in the transaction (nodes starting at once)
  const char* create_table;              // the version's table, IF NOT EXISTS
  const char* read_version;              // one row and column, or none (version 0)
  const char* write_version;             // ?1 the version
  std::span<const migration> migrations; // in order; the last one's version is this build's
};

// Migrates `db` to the last step's version; the version found before. Throws open_error.
inline int migrate(connection& db, const versioned_schema& v) {
  const auto fail = [&](const std::string& what) {
    throw open_error(v.where + ": " + what + " (" + db.last_message() + ")");
  };
  const int known = v.migrations.empty() ? 0 : v.migrations.back().to_version;
  transaction tx(db);
  if (tx.begin_error() || (v.lock != nullptr && db.exec(v.lock)) || db.exec(v.create_table)) {
    fail("cannot start the " + std::string(v.schema) + " migration");
  }
  auto version = first_row<std::int64_t>(
      db, v.read_version, [](statement&) {}, [](const statement& s) { return s.int64(0); });
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
    if (db.exec(m.sql) ||
        run(db, v.write_version, [&](statement& s) { s.bind(1, std::int64_t{m.to_version}); })) {
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
