// The SQLite backend: the contract suite on a real file in a temp directory, then what only a
// file can do wrong: versions, foreign and damaged files, several connections.
#include "store/sqlite_identity_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "identity_store_contract.hpp"
#include "store/sqlite_connection.hpp"
#include "temp_dir.hpp"

namespace thingport::store::test {

namespace {

class sqlite_env final : public backend_env {
public:
  std::unique_ptr<identity_store> open() override {
    return std::make_unique<sqlite_identity_store>(dir_.path() / "identity.db");
  }

private:
  temp_dir dir_;
};

} // namespace

INSTANTIATE_TEST_SUITE_P(Sqlite, IdentityStoreContract,
                         ::testing::Values(backend{"sqlite",
                                                   [] { return std::make_unique<sqlite_env>(); }}),
                         backend_name);

namespace {

// Direct access to the file, to look at it or tamper with it while no store has it open.
class raw_db {
public:
  explicit raw_db(const std::filesystem::path& file) {
    if (sqlite3_open(file.c_str(), &db_) != SQLITE_OK) {
      throw std::runtime_error("raw open failed");
    }
  }
  ~raw_db() { sqlite3_close(db_); }
  raw_db(const raw_db&) = delete;
  raw_db& operator=(const raw_db&) = delete;

  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      const std::string msg = err != nullptr ? err : "?";
      sqlite3_free(err);
      throw std::runtime_error(msg);
    }
  }
  std::string text(const char* sql) {
    sqlite3_stmt* s = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
      const auto* p = sqlite3_column_text(s, 0);
      out = p != nullptr ? reinterpret_cast<const char*>(p) : "";
    }
    sqlite3_finalize(s);
    return out;
  }

private:
  sqlite3* db_ = nullptr;
};

class SqliteIdentityStore : public ::testing::Test {
protected:
  std::filesystem::path file() const { return dir_.path() / "identity.db"; }

  // The message of the open_error that opening file() throws, or "" when it opens.
  std::string open_failure() {
    try {
      sqlite_identity_store s(file());
    } catch (const open_error& e) {
      std::printf("open_error: %s\n", e.what());
      return e.what();
    }
    return "";
  }

  temp_dir dir_;
};

} // namespace

TEST_F(SqliteIdentityStore, NewFileHasWalFullSyncAndSchemaVersion) {
  { sqlite_identity_store s(file()); }
  raw_db raw(file());
  EXPECT_EQ(raw.text("PRAGMA user_version"), "3");
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal"); // persistent in the file
  EXPECT_EQ(raw.text("PRAGMA application_id"), std::to_string(sqlite::application_id));
  EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(raw.text("SELECT count(*) FROM sqlite_schema WHERE type = 'table'"), "6");
}

TEST_F(SqliteIdentityStore, AVersion1FileGainsNodeTypesAndTopologyWithItsProductsKept) {
  {
    sqlite_identity_store s(file());
    ASSERT_TRUE(s.create_product({"old lamp", false, "OldLamp0001", {}}));
  }
  // What a build of schema version 1 left: no node_type column.
  raw_db(file()).exec(
      "DROP TABLE topology; ALTER TABLE product DROP COLUMN node_type; PRAGMA user_version = 1");
  sqlite_identity_store s(file());
  EXPECT_EQ(raw_db(file()).text("PRAGMA user_version"), "3");
  auto old = s.get_product("OldLamp0001");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->name, "old lamp");
  EXPECT_EQ(old->node, node_type::device);
  new_product gw{"hub", false, {}, {}};
  gw.node = node_type::gateway;
  auto made = s.create_product(gw);
  ASSERT_TRUE(made);
  EXPECT_EQ(s.get_product(made->product_key)->node, node_type::gateway);
  EXPECT_EQ(raw_db(file()).text("PRAGMA integrity_check"), "ok");
}

TEST_F(SqliteIdentityStore, NewerSchemaVersionIsRefusedClearly) {
  { sqlite_identity_store s(file()); }
  raw_db(file()).exec("PRAGMA user_version = 99");
  const std::string why = open_failure();
  EXPECT_NE(why.find("schema version 99"), std::string::npos) << why;
  EXPECT_NE(why.find("newer than this build"), std::string::npos) << why;
  EXPECT_NE(why.find(file().string()), std::string::npos) << why;
  // Refusing changed nothing.
  EXPECT_EQ(raw_db(file()).text("PRAGMA user_version"), "99");
}

TEST_F(SqliteIdentityStore, ForeignDatabasesAreRefused) {
  raw_db(file()).exec("CREATE TABLE things (x INTEGER)");
  std::string why = open_failure();
  EXPECT_NE(why.find("not a thingport database"), std::string::npos) << why;

  std::filesystem::remove(file());
  raw_db(file()).exec("PRAGMA user_version = 1; PRAGMA application_id = 42");
  why = open_failure();
  EXPECT_NE(why.find("another application"), std::string::npos) << why;
}

TEST_F(SqliteIdentityStore, GarbageFileGivesAClearError) {
  {
    std::ofstream out(file(), std::ios::binary);
    std::mt19937 rng(7);
    for (int i = 0; i < 64 * 1024; ++i) {
      out.put(static_cast<char>(rng()));
    }
  }
  const std::string why = open_failure();
  EXPECT_NE(why.find(file().string()), std::string::npos) << why;
  EXPECT_NE(why.find("not a database"), std::string::npos) << why;
}

TEST_F(SqliteIdentityStore, DamagedPagesGiveAnErrorNotACrash) {
  {
    sqlite_identity_store s(file());
    ASSERT_TRUE(s.create_product({.name = "p", .product_key = "pk"}));
    std::vector<new_device> specs(2000);
    ASSERT_TRUE(s.create_devices("pk", specs));
  }
  // Keep the header page (schema and version), overwrite every page after it.
  const auto size = std::filesystem::file_size(file());
  ASSERT_GT(size, 8192U);
  {
    std::fstream f(file(), std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(4096);
    std::mt19937 rng(11);
    for (std::uintmax_t i = 4096; i < size; ++i) {
      f.put(static_cast<char>(rng()));
    }
  }
  std::unique_ptr<sqlite_identity_store> s;
  try {
    s = std::make_unique<sqlite_identity_store>(file());
  } catch (const open_error& e) {
    std::printf("refused at open: %s\n", e.what());
    return;
  }
  recording_sink sink;
  const std::error_code ec = s->load_all(sink);
  std::printf("load_all: %s\n", ec.message().c_str());
  EXPECT_EQ(ec, make_error_code(errc::corrupt)) << ec.message();
  TP_EXPECT_ERR(s->get_device("pk", "nope"), errc::corrupt);
}

TEST_F(SqliteIdentityStore, MissingDirectoryIsAnOpenError) {
  const auto missing = dir_.path() / "no" / "such" / "identity.db";
  try {
    sqlite_identity_store s(missing);
    ADD_FAILURE() << "opened " << missing;
  } catch (const open_error& e) {
    EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
  }
}

TEST_F(SqliteIdentityStore, TwoConnectionsOnOneFileWriteThroughTheBusyTimeout) {
  sqlite_identity_store a(file());
  sqlite_identity_store b(file());
  ASSERT_TRUE(a.create_product({.name = "p", .product_key = "pk"}));
  auto writer = [](sqlite_identity_store& s, const char* prefix, int& failures) {
    for (int i = 0; i < 100; ++i) {
      if (!s.create_device("pk", {.device_name = cat(prefix, std::to_string(i))})) {
        ++failures;
      }
    }
  };
  int failures_a = 0;
  int failures_b = 0;
  std::thread ta(writer, std::ref(a), "aaaa", std::ref(failures_a));
  std::thread tb(writer, std::ref(b), "bbbb", std::ref(failures_b));
  ta.join();
  tb.join();
  EXPECT_EQ(failures_a, 0);
  EXPECT_EQ(failures_b, 0);
  EXPECT_EQ(*a.count_devices("pk"), 200U);
  EXPECT_EQ(*b.count_devices("pk"), 200U);
}

TEST_F(SqliteIdentityStore, IntegrityAfterConcurrentWriters) {
  {
    sqlite_identity_store s(file());
    ASSERT_TRUE(s.create_product({.name = "p", .product_key = "pk"}));
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&s, t] {
        for (int i = 0; i < 50; ++i) {
          const std::string dn = cat("dev", std::to_string(t), "-", std::to_string(i));
          (void)s.create_device("pk", {.device_name = dn});
          (void)s.record_online("pk", dn, now(), "127.0.0.1");
          if (i % 3 == 0) {
            (void)s.delete_device("pk", dn);
          }
        }
      });
    }
    for (auto& th : threads) {
      th.join();
    }
  }
  raw_db raw(file());
  EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(raw.text("PRAGMA foreign_key_check"), "");
  EXPECT_EQ(raw.text("SELECT count(*) FROM device"), std::to_string(4 * (50 - 17)));
}

TEST(StoreErrors, NamesAndMessages) {
  EXPECT_EQ(to_string(errc::already_exists), "already_exists");
  EXPECT_EQ(make_error_code(errc::not_found).category().name(), std::string("thingport.store"));
  EXPECT_EQ(make_error_code(errc::bad_device_name).message(),
            "deviceName must be 4 to 32 characters of A-Z a-z 0-9 _ - @ . :");
  EXPECT_EQ(to_string(device_status::unactive), "UNACTIVE");
  EXPECT_EQ(to_string(device_status::disable), "DISABLE");
}

} // namespace thingport::store::test
