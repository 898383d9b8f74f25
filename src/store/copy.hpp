// Moving a deployment between backends (`thingport store copy`): every row of the identity and
// thing tables of a SQLite data directory's identity.db into an empty PostgreSQL database, in
// one PostgreSQL transaction (a copy cut short leaves the target empty), then both sides
// counted table by table. The session store (sessions.db) stays with its node.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "store/pg_connection.hpp"

namespace thingport::store {

struct table_count {
  std::string table;
  std::uint64_t rows = 0;
};

// The rows of every table both backends hold, in copy order (a table after those it references).
std::vector<table_count> count_sqlite_tables(const std::filesystem::path& identity_db);
std::vector<table_count> count_pg_tables(const pg::options& opts);

// Copies; `progress(table, rows so far)` is called as it goes. Throws open_error when either
// side cannot be opened or the target already holds products, std::runtime_error when a row
// cannot be written (nothing is then left in the target).
void copy_sqlite_to_pg(const std::filesystem::path& identity_db, const pg::options& to,
                       const std::function<void(const std::string&, std::uint64_t)>& progress);

} // namespace thingport::store
