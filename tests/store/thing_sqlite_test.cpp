// The SQLite thing store: the contract suite on a real file shared with the identity store, then
// what only that layout can do: a device deleted in the identity store takes its thing data
// along, schema versions, durability settings, several connections.
#include "store/thing_sqlite.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <thread>

#include "store/sqlite_identity_store.hpp"
#include "temp_dir.hpp"
#include "thing_store_contract.hpp"

namespace thingport::store::test {

namespace {

class sqlite_thing_env final : public thing_backend_env {
public:
  std::unique_ptr<thing_store> open(const retention& keep) override {
    return std::make_unique<sqlite_thing_store>(file(), sqlite_thing_options{.keep = keep});
  }
  void add_device(const std::string& pk, const std::string& dn) override {
    sqlite_identity_store ids(file());
    (void)ids.create_product({.name = "p", .product_key = pk}); // may exist already
    ASSERT_TRUE(ids.create_device(pk, {.device_name = dn}));
  }
  std::filesystem::path file() const { return dir_.path() / "identity.db"; }

private:
  temp_dir dir_;
};

std::string query_text(const std::filesystem::path& file, const char* sql) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open(file.c_str(), &db) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
      const auto* p = sqlite3_column_text(s, 0);
      out = p != nullptr ? reinterpret_cast<const char*>(p) : "";
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return out;
}

void exec(const std::filesystem::path& file, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

const timestamp now = at_ms(1'000'000);

} // namespace

INSTANTIATE_TEST_SUITE_P(Sqlite, ThingStoreContract,
                         ::testing::Values(thing_backend{
                             "sqlite", [] { return std::make_unique<sqlite_thing_env>(); }}),
                         thing_backend_name);

class SqliteThingStore : public ::testing::Test {
protected:
  void SetUp() override { env_.add_device("pk", "dev1"); }
  sqlite_thing_env env_;
};

TEST_F(SqliteThingStore, SharesTheIdentityFileWithItsOwnSchemaVersion) {
  { sqlite_thing_store s(env_.file()); }
  EXPECT_EQ(query_text(env_.file(), "PRAGMA user_version"), "3"); // the identity schema's
  EXPECT_EQ(query_text(env_.file(), "SELECT value FROM thing_meta WHERE key = 'schema_version'"),
            "5");
  EXPECT_EQ(query_text(env_.file(), "PRAGMA integrity_check"), "ok");
  // The identity store still opens it, and a second thing store does not migrate again.
  { sqlite_identity_store ids(env_.file()); }
  { sqlite_thing_store s(env_.file()); }
}

TEST_F(SqliteThingStore, AThingStoreOnANewFileCreatesBothSchemas) {
  temp_dir dir;
  const auto file = dir.path() / "fresh.db";
  { sqlite_thing_store s(file); }
  EXPECT_EQ(query_text(file, "PRAGMA user_version"), "3");
  { sqlite_identity_store ids(file); }
}

TEST_F(SqliteThingStore, AVersion1FileGainsTheFirmwareTableWithItsDataKept) {
  {
    sqlite_thing_store s(env_.file());
    ASSERT_TRUE(s.append_properties("pk", "dev1",
                                    std::vector<property_value>{{"Temp", "1", at_ms(1)}}, now));
  }
  // What a build of thing schema version 1 left: no firmware table, version 1.
  exec(env_.file(), "DROP TABLE thing_firmware");
  exec(env_.file(), "DROP TABLE ota_job_device");
  exec(env_.file(), "DROP TABLE ota_job");
  exec(env_.file(), "DROP TABLE ota_firmware");
  exec(env_.file(), "UPDATE thing_meta SET value = 1 WHERE key = 'schema_version'");
  sqlite_thing_store s(env_.file());
  EXPECT_EQ(query_text(env_.file(), "SELECT value FROM thing_meta WHERE key = 'schema_version'"),
            "5");
  EXPECT_EQ(s.latest_properties("pk", "dev1")->size(), 1U);
  ASSERT_TRUE(s.record_firmware("pk", "dev1", {"default", "1.0", now}));
  EXPECT_EQ(s.firmware("pk", "dev1")->size(), 1U);
}

TEST_F(SqliteThingStore, NewerThingSchemaIsRefused) {
  { sqlite_thing_store s(env_.file()); }
  exec(env_.file(), "UPDATE thing_meta SET value = 7 WHERE key = 'schema_version'");
  try {
    sqlite_thing_store s(env_.file());
    ADD_FAILURE() << "opened a newer thing schema";
  } catch (const open_error& e) {
    EXPECT_NE(std::string(e.what()).find("thing schema version 7"), std::string::npos) << e.what();
  }
}

TEST_F(SqliteThingStore, DeletingTheDeviceDeletesItsThingData) {
  sqlite_thing_store things(env_.file());
  ASSERT_TRUE(things.append_properties("pk", "dev1",
                                       std::vector<property_value>{{"Temp", "1", at_ms(1)}}, now));
  ASSERT_TRUE(things.put_shadow("pk", "dev1", {.document = "{}", .version = 1, .updated = now}, 0));
  ASSERT_TRUE(things.set_desired("pk", "dev1", "Temp", "2", now));
  {
    sqlite_identity_store ids(env_.file());
    ASSERT_TRUE(ids.delete_device("pk", "dev1"));
  }
  EXPECT_TRUE(things.latest_properties("pk", "dev1")->empty());
  EXPECT_FALSE(things.get_shadow("pk", "dev1")->has_value());
  EXPECT_EQ(query_text(env_.file(), "SELECT count(*) FROM thing_property_history"), "0");
  EXPECT_EQ(query_text(env_.file(), "SELECT count(*) FROM thing_series"), "0");
  EXPECT_EQ(query_text(env_.file(), "PRAGMA foreign_key_check"), "");
  // A device of the same name later starts empty.
  env_.add_device("pk", "dev1");
  EXPECT_TRUE(things.get_desired("pk", "dev1", {})->empty());
}

TEST_F(SqliteThingStore, DurabilityIsAnOption) {
  sqlite_thing_store fast(env_.file());
  sqlite_thing_store durable(env_.file(), {.durable = true});
  // Both write; neither setting changes what is stored.
  ASSERT_TRUE(
      fast.append_properties("pk", "dev1", std::vector<property_value>{{"A", "1", at_ms(1)}}, now));
  ASSERT_TRUE(durable.append_properties("pk", "dev1",
                                        std::vector<property_value>{{"B", "1", at_ms(1)}}, now));
  EXPECT_EQ(fast.latest_properties("pk", "dev1")->size(), 2U);
}

TEST_F(SqliteThingStore, ConcurrentWritersAndTheIdentityStore) {
  // What is checked is that no write is lost or refused under contention, not how long a write
  // waits for the lock: on a loaded 2-core machine (ASan, parallel tests) four busy writers can
  // keep one waiting past the default 5 s, so the wait here is long.
  constexpr std::chrono::milliseconds patient{60'000};
  sqlite_thing_store things(env_.file(), {.busy_timeout = patient});
  sqlite_identity_store ids(env_.file(), {.busy_timeout = patient});
  std::vector<std::thread> threads;
  int failures = 0;
  std::mutex mu;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        std::vector<property_value> post;
        for (int p = 0; p < 20; ++p) {
          post.push_back({"P" + std::to_string(p), std::to_string(i), at_ms(t * 1000 + i)});
        }
        if (!things.append_properties("pk", "dev1", post, now)) {
          std::lock_guard lock(mu);
          ++failures;
        }
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < 50; ++i) {
      if (!ids.record_online("pk", "dev1", now, "127.0.0.1")) {
        std::lock_guard lock(mu);
        ++failures;
      }
    }
  });
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(things.property_history("pk", "dev1", "P0", {.limit = 1000})->size(), 150U);
  EXPECT_EQ(query_text(env_.file(), "PRAGMA integrity_check"), "ok");
}

TEST(ThingStoreErrors, NamesAndMessages) {
  EXPECT_EQ(to_string(thing_errc::version_conflict), "version_conflict");
  EXPECT_EQ(make_error_code(thing_errc::bad_range).category().name(),
            std::string("thingport.store.thing"));
  EXPECT_EQ(make_error_code(thing_errc::bad_identifier).message(),
            "identifiers must be 1 to 50 characters of A-Z a-z 0-9 _");
  EXPECT_EQ(to_string(downlink_type::property_set), "property_set");
}

} // namespace thingport::store::test
