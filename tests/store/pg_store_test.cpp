// The PostgreSQL backends: the identity and thing contract suites on a real PostgreSQL 15 that
// the test starts itself (pg_server.hpp: initdb + pg_ctl in a temp dir, a fresh database per
// test), then what only a server can do wrong: schema versions, a server that goes away and
// comes back, SQL in names.
#include "store/ota_store.hpp"
#include "store/pg_store.hpp"
#include "store/sql_connection.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <string>
#include <thread>
#include <vector>

#include "identity_store_contract.hpp"
#include "pg_server.hpp"
#include "thing_store_contract.hpp"

namespace thingport::store::test {

namespace {

pg::options options_for(const std::string& url) {
  return pg::options{.url = url, .reconnect_interval = std::chrono::milliseconds(0)};
}

class pg_env final : public backend_env {
public:
  std::unique_ptr<identity_store> open() override {
    return std::make_unique<pg_identity_store>(options_for(url_));
  }

private:
  std::string url_ = pg_server::shared().create_database();
};

class pg_thing_env final : public thing_backend_env {
public:
  std::unique_ptr<thing_store> open(const retention& keep) override {
    return std::make_unique<pg_thing_store>(options_for(url_), keep);
  }
  void add_device(const std::string& pk, const std::string& dn) override {
    pg_identity_store ids(options_for(url_));
    (void)ids.create_product({.name = "p", .product_key = pk}); // may exist already
    ASSERT_TRUE(ids.create_device(pk, {.device_name = dn}));
  }

private:
  std::string url_ = pg_server::shared().create_database();
};

// Runs `sql` on the database at `url`; the first column of the first row, if any.
std::string query(const std::string& url, const char* sql) {
  PGconn* c = PQconnectdb(url.c_str());
  std::string out;
  PGresult* r = PQexec(c, sql);
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) {
    out = PQgetvalue(r, 0, 0);
  } else if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
    ADD_FAILURE() << sql << ": " << PQerrorMessage(c);
  }
  PQclear(r);
  PQfinish(c);
  return out;
}

} // namespace

INSTANTIATE_TEST_SUITE_P(Postgres, IdentityStoreContract,
                         ::testing::Values(backend{"postgres",
                                                   [] { return std::make_unique<pg_env>(); }}),
                         backend_name);

INSTANTIATE_TEST_SUITE_P(Postgres, ThingStoreContract,
                         ::testing::Values(thing_backend{
                             "postgres", [] { return std::make_unique<pg_thing_env>(); }}),
                         thing_backend_name);

TEST(PgStore, MigratesAnEmptyDatabaseOnceAndRecordsTheVersion) {
  const std::string url = pg_server::shared().create_database();
  EXPECT_EQ(pg_migrate(options_for(url)), 0);
  EXPECT_EQ(pg_migrate(options_for(url)), pg_schema_version);
  EXPECT_EQ(query(url, "SELECT version FROM thingport_schema WHERE component = 'thingport'"),
            std::to_string(pg_schema_version));
}

// A cluster's firmware bytes and link secret (docs/store-format.md "OTA").
TEST(PgStore, FirmwareChunksKeepEveryByteAndOrphansGoAfterTheirTime) {
  const std::string url = pg_server::shared().create_database();
  pg_identity_store ids(options_for(url));
  ASSERT_TRUE(ids.create_product({.name = "p", .product_key = "pk"}));
  auto ota = open_pg_ota_store(options_for(url));
  std::string bytes(3000, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<char>(i * 7); // NULs, 0xff, everything
  const auto t0 = now();
  ASSERT_TRUE(ota->put_chunk("kept", 0, bytes, t0));
  ASSERT_TRUE(ota->put_chunk("kept", 1, "tail", t0));
  ASSERT_TRUE(ota->put_chunk("cut", 0, "a cut upload", t0));
  ASSERT_TRUE(ota->add_firmware({.id = "kept",
                                 .product_key = "pk",
                                 .version = "1",
                                 .module = "default",
                                 .size = 3004,
                                 .created = t0}));
  EXPECT_EQ(ota->chunk("kept", 0).value(), bytes);
  EXPECT_EQ(ota->chunk("kept", 1).value(), "tail");
  EXPECT_EQ(ota->chunk("kept", 2).error(), make_error_code(errc::not_found));
  // Not yet their time: nothing goes; then the chunks of no firmware go, the others stay.
  EXPECT_EQ(ota->delete_orphan_chunks(t0).value(), 0U);
  EXPECT_EQ(ota->delete_orphan_chunks(t0 + std::chrono::milliseconds(1)).value(), 1U);
  EXPECT_EQ(ota->chunk("cut", 0).error(), make_error_code(errc::not_found));
  EXPECT_EQ(ota->chunk("kept", 1).value(), "tail");
  ASSERT_TRUE(ota->delete_chunks("kept"));
  EXPECT_EQ(query(url, "SELECT count(*) FROM ota_firmware_chunk"), "0");
  // The first secret proposed is everyone's.
  EXPECT_EQ(ota->shared_secret("download_links", "first").value(), "first");
  EXPECT_EQ(open_pg_ota_store(options_for(url))->shared_secret("download_links", "second").value(),
            "first");
}

TEST(PgStore, RefusesADatabaseWithANewerSchema) {
  const std::string url = pg_server::shared().create_database();
  pg_migrate(options_for(url));
  query(url, "UPDATE thingport_schema SET version = version + 1");
  try {
    pg_identity_store s(options_for(url));
    FAIL() << "opened a newer schema";
  } catch (const open_error& e) {
    EXPECT_NE(std::string(e.what()).find("newer than this build"), std::string::npos) << e.what();
  }
}

TEST(PgStore, AnUnreachableServerIsAClearOpenErrorWithoutThePassword) {
  const std::string url = "postgresql://thingport:s3cret@127.0.0.1:1/none";
  try {
    pg_identity_store s(pg::options{.url = url, .connect_timeout = std::chrono::seconds(1)});
    FAIL() << "connected to nothing";
  } catch (const open_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("cannot connect to PostgreSQL at postgresql://thingport:***@127.0.0.1:1"),
              std::string::npos)
        << what;
    EXPECT_EQ(what.find("s3cret"), std::string::npos) << what;
  }
}

TEST(PgStore, AStatementThatRunsOnIsBounded) {
  pg::connection db(options_for(pg_server::shared().url()));
  auto v = sql::first_row<std::string>(
      db, "SHOW statement_timeout", [](sql::statement&) {},
      [](const sql::statement& s) { return s.text(0); });
  ASSERT_TRUE(v && *v);
  EXPECT_EQ(**v, "1min");
  // A URL's own setting wins over the default.
  pg::connection own(
      options_for(pg_server::shared().url() + "?options=-c%20statement_timeout%3D5s"));
  v = sql::first_row<std::string>(
      own, "SHOW statement_timeout", [](sql::statement&) {},
      [](const sql::statement& s) { return s.text(0); });
  ASSERT_TRUE(v && *v);
  EXPECT_EQ(**v, "5s");
}

TEST(PgStore, PasswordsNeverReachMessages) {
  EXPECT_EQ(pg::redact("postgresql://u:s3cret@h:5432/db?sslmode=require"),
            "postgresql://u:***@h:5432/db?sslmode=require");
  EXPECT_EQ(pg::redact("postgresql://u@h/db?password=s3cret&sslmode=require"),
            "postgresql://u@h/db?password=***&sslmode=require");
  EXPECT_EQ(pg::redact("host=h password=s3cret dbname=x"), "host=h password=*** dbname=x");
  EXPECT_EQ(pg::redact("postgresql://u@h:5432/db"), "postgresql://u@h:5432/db");
  // A password file that cannot be read is named, before any connection is tried.
  try {
    pg_identity_store s(
        pg::options{.url = pg_server::shared().url(), .password_file = "/nonexistent/pg.pass"});
    FAIL() << "opened without its password file";
  } catch (const open_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/pg.pass"), std::string::npos) << e.what();
  }
}

TEST(PgStore, NamesWithQuotesUnicodeAndSqlAreStoredAsGiven) {
  pg_identity_store s(options_for(pg_server::shared().create_database()));
  const std::string name = "Robert'); DROP TABLE device;-- \"温度\" ?1 $1";
  auto p = s.create_product({.name = name});
  ASSERT_TRUE(p) << p.error().message();
  auto back = s.get_product(p->product_key);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->name, name);
  ASSERT_TRUE(s.create_device(p->product_key, {.device_name = "dev'1"}).has_value() == false);
  ASSERT_TRUE(s.create_device(p->product_key, {.device_name = "dev@1.x:y"}));
  EXPECT_EQ(s.count_devices(p->product_key).value(), 1U);
}

TEST(PgStore, AServerThatGoesAwayFailsCallsThenComesBackByItself) {
  auto& server = pg_server::shared();
  const std::string url = server.create_database();
  pg_identity_store s(options_for(url));
  auto p = s.create_product({.name = "before"});
  ASSERT_TRUE(p);
  server.stop();
  auto during = s.create_product({.name = "during"});
  ASSERT_FALSE(during);
  EXPECT_EQ(during.error(), make_error_code(errc::storage_failure));
  EXPECT_FALSE(s.get_product(p->product_key));
  server.start();
  // The first call after the restart reconnects (the interval is 0 here).
  auto after = s.create_product({.name = "after"});
  ASSERT_TRUE(after) << after.error().message();
  auto all = s.list_products({});
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 2U); // "during" was never half-written
}

TEST(PgStore, ABatchCutByTheServerLeavesNothingBehind) {
  auto& server = pg_server::shared();
  const std::string url = server.create_database();
  pg_identity_store s(options_for(url));
  auto p = s.create_product({.name = "p"});
  ASSERT_TRUE(p);
  std::vector<new_device> specs(2000);
  for (std::size_t i = 0; i < specs.size(); ++i) {
    specs[i].device_name = "dev" + std::to_string(i);
  }
  // The server is stopped while the batch runs: it either committed whole or not at all.
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    server.stop();
  });
  auto r = s.create_devices(p->product_key, specs);
  stopper.join();
  server.start();
  const auto n = query(url, "SELECT count(*) FROM device");
  EXPECT_TRUE(n == "0" || (r && n == "2000")) << n << " rows, batch " << (r ? "ok" : "failed");
}

} // namespace thingport::store::test
