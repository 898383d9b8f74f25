// The SQLite backends of the identity and thing stores: opening the file, its pragmas and the
// thing schema's migration. The statements are sql_identity_store's and sql_thing_store's.
#include <string>

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
  auto fail = [&](const std::string& what) {
    throw open_error("thing database " + file.string() + ": " + what + " (" + db->last_message() +
                     ")");
  };
  {
    sql::transaction tx(*db);
    if (tx.begin_error() || db->exec(tq::create_meta)) {
      fail("cannot start the thing schema migration");
    }
    auto version = sql::first_row<std::int64_t>(
        *db, tq::read_version, [](sql::statement&) {},
        [](const sql::statement& s) { return s.int64(0); });
    if (!version) {
      fail("cannot read the thing schema version");
    }
    const std::int64_t have = version->value_or(0);
    if (have > tq::schema_version) {
      throw open_error("thing database " + file.string() + " has thing schema version " +
                       std::to_string(have) + ", newer than this build of thingport knows (" +
                       std::to_string(tq::schema_version) + ")");
    }
    for (const tq::migration& m : tq::migrations) {
      if (m.to_version <= have) {
        continue;
      }
      if (db->exec(m.sql) || sql::run(*db, tq::write_version, [&](sql::statement& s) {
            s.bind(1, std::int64_t{m.to_version});
          })) {
        fail("thing schema migration to version " + std::to_string(m.to_version) + " failed");
      }
    }
    if (tx.commit()) {
      fail("cannot commit the thing schema migration");
    }
  }
  if (db->exec(opts.durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")) {
    throw open_error("thing database " + file.string() + ": cannot set synchronous");
  }
  return db;
}

} // namespace

sqlite_thing_store::sqlite_thing_store(const std::filesystem::path& file, sqlite_thing_options opts)
    : sql_thing_store(open_thing_file(file, opts), opts.keep) {}

} // namespace thingport::store
