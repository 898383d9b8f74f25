// The SQLite backends of the identity and thing stores: opening the file, its pragmas and the
// thing schema's migration. The statements are sql_identity_store's and sql_thing_store's.
#include <string>

#include "store/sql_migrate.hpp"
#include "store/sqlite_connection.hpp"
#include "store/sqlite_identity_store.hpp"
#include "store/thing_sql.hpp"
#include "store/thing_sqlite.hpp"

namespace thingport::store {

namespace tq = thing_sql;

sqlite_identity_store::sqlite_identity_store(const std::filesystem::path& file, sqlite_options opts)
    : sql_identity_store(std::make_unique<sqlite::connection>(file, opts.busy_timeout)) {}

namespace {

// The thing schema lives in thing_meta, beside the identity schema's PRAGMA user_version.
std::unique_ptr<sql::connection> open_thing_file(const std::filesystem::path& file,
                                                 const sqlite_thing_options& opts) {
  auto db = std::make_unique<sqlite::connection>(file, opts.busy_timeout);
  sql::migrate(*db, {.where = "thing database " + file.string(),
                     .schema = "thing schema",
                     .create_table = tq::create_meta,
                     .read_version = tq::read_version,
                     .write_version = tq::write_version,
                     .migrations = tq::migrations});
  if (db->exec(opts.durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")) {
    throw open_error("thing database " + file.string() + ": cannot set synchronous");
  }
  return db;
}

} // namespace

sqlite_thing_store::sqlite_thing_store(const std::filesystem::path& file, sqlite_thing_options opts)
    : sql_thing_store(open_thing_file(file, opts), opts.keep) {}

} // namespace thingport::store
