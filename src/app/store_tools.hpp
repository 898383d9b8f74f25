// `thingport store migrate` and `thingport store copy`, and `store check --url` on PostgreSQL
// (store_check.hpp checks a data directory's SQLite files).
#pragma once

#include <string>

namespace thingport::app {

struct store_target {
  std::string url{};           // postgresql://...; empty: the SQLite files of data_dir
  std::string password_file{}; // [store] password_file
  std::string data_dir = "./data";
};

// Brings the schema to this build's version (what a start does too) and prints the versions.
int store_migrate_command(const store_target& t);

// Copies data_dir's identity.db into the empty database at `to`, then counts every table on
// both sides: 0 when they agree, 1 otherwise or on an error.
int store_copy_command(const std::string& from_dir, const store_target& to);

// Prints the schema version and the rows of every table of the database at t.url.
int store_check_pg_command(const store_target& t);

} // namespace thingport::app
