#include "app/store_check.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "store/session_sqlite.hpp"
#include "store/sqlite_connection.hpp"

namespace thingport::app {

namespace {

// A database of the data directory and what it holds.
struct expected_db {
  const char* file;
  const char* what;
  std::int32_t application_id; // PRAGMA application_id of our files of this kind
  int schema_version;          // the newest schema this build reads
};

// One integer PRAGMA; nullopt when it cannot be read.
std::optional<std::int64_t> pragma_int(sqlite3* db, const char* sql) {
  sqlite3_stmt* st = nullptr;
  std::optional<std::int64_t> v;
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

// Runs PRAGMA integrity_check read-only; returns the problems (empty when sound).
std::vector<std::string> check_file(const std::filesystem::path& path, const expected_db& want) {
  std::vector<std::string> problems;
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  if (rc != SQLITE_OK) {
    problems.push_back(std::string("cannot open: ") + sqlite3_errstr(rc));
    sqlite3_close(db);
    return problems;
  }
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr) != SQLITE_OK) {
    problems.push_back(std::string("not a database: ") + sqlite3_errmsg(db));
  } else {
    int step = SQLITE_ROW;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      const std::string line = text != nullptr ? text : "";
      if (line != "ok")
        problems.push_back(line);
    }
    if (step != SQLITE_DONE)
      problems.push_back(std::string("check failed: ") + sqlite3_errmsg(db));
  }
  sqlite3_finalize(st);
  if (problems.empty()) {
    // A sound SQLite file that holds no tables of ours is not a thingport database.
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'", -1, &st,
                           nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 0)
      problems.push_back("no tables: not a thingport database");
    sqlite3_finalize(st);
  }
  if (problems.empty()) {
    const auto app = pragma_int(db, "PRAGMA application_id");
    const auto version = pragma_int(db, "PRAGMA user_version");
    if (!app || *app != want.application_id)
      problems.push_back("application_id " +
                         (app ? std::to_string(*app) : std::string("unreadable")) +
                         ": not a thingport " + want.file);
    else if (!version || *version < 1 || *version > want.schema_version)
      problems.push_back("schema version " +
                         (version ? std::to_string(*version) : std::string("unreadable")) +
                         ", this build reads 1.." + std::to_string(want.schema_version));
  }
  sqlite3_close(db);
  return problems;
}

} // namespace

int store_check_command(const std::string& data_dir) {
  static constexpr expected_db dbs[] = {
      {"identity.db", "products, devices, applications, thing data", store::sqlite::application_id,
       store::sqlite::schema_version},
      {"sessions.db", "persistent sessions and their queued messages",
       store::session_application_id, store::session_schema_version},
  };
  int found = 0;
  bool sound = true;
  for (const auto& d : dbs) {
    const auto path = std::filesystem::path(data_dir) / d.file;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      std::printf("%s: absent\n", path.c_str());
      continue;
    }
    ++found;
    const auto problems = check_file(path, d);
    if (problems.empty()) {
      std::printf("%s: ok (%s)\n", path.c_str(), d.what);
      continue;
    }
    sound = false;
    for (const auto& p : problems)
      std::printf("%s: %s\n", path.c_str(), p.c_str());
  }
  if (found == 0) {
    std::fprintf(stderr, "thingport: no database in %s\n", data_dir.c_str());
    return 2;
  }
  return sound ? 0 : 1;
}

} // namespace thingport::app
