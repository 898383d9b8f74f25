// The PostgreSQL backends of the identity and thing stores ([store] backend = "postgres"):
// the statements of sql_identity_store and sql_thing_store over a libpq connection
// (pg_connection.hpp), on the schema below (docs/store-format.md "PostgreSQL").
//
// Schema versions live in the table thingport_schema (one row, component 'thingport'). Every
// store opened on a database migrates it to this build's version first, under a transaction-
// scoped advisory lock so that nodes starting together migrate once; a database with a newer
// version is refused (open_error), as the SQLite files are.
//
// Several thingport nodes may share one database; each store keeps one connection.
#pragma once

#include <cstdint>

#include "store/pg_connection.hpp"
#include "store/sql_identity_store.hpp"
#include "store/thing_sql_store.hpp"

namespace thingport::store {

// The PostgreSQL schema version this build writes and understands.
inline constexpr int pg_schema_version = 6;

// Connects, creates or migrates the schema to pg_schema_version and returns the version found
// before (0: an empty database). Throws open_error when the server cannot be reached, the
// database holds a newer schema, or a migration fails.
int pg_migrate(const pg::options& opts);
// The same on a connection the caller keeps.
int pg_migrate(pg::connection& db, const pg::options& opts);

class pg_identity_store final : public sql_identity_store {
public:
  // Connects and migrates; throws open_error as pg_migrate does.
  explicit pg_identity_store(const pg::options& opts);
};

class pg_thing_store final : public sql_thing_store {
public:
  pg_thing_store(const pg::options& opts, retention keep);
};

} // namespace thingport::store
