// The SQLite session store: the contract suite on real files, then what only that backend does:
// the file's identity and version, durability settings, refusing damaged files, and the group
// commit writer on top of it.
#include "store/session_sqlite.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "session_store_contract.hpp"
#include "store/session_writer.hpp"
#include "temp_dir.hpp"

namespace thingport::store::test {

namespace {

class sqlite_session_env final : public session_backend_env {
public:
  std::unique_ptr<session_store> open() override {
    return std::make_unique<sqlite_session_store>(file());
  }
  std::filesystem::path file() const { return dir_.path() / "sessions.db"; }

private:
  temp_dir dir_;
};

std::int64_t query_int(const std::filesystem::path& file, const char* sql) {
  sqlite3* db = nullptr;
  std::int64_t out = -1;
  if (sqlite3_open(file.c_str(), &db) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
      out = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return out;
}

std::string open_error_of(const std::filesystem::path& file) {
  try {
    sqlite_session_store s(file);
  } catch (const open_error& e) {
    return e.what();
  }
  return "";
}

} // namespace

INSTANTIATE_TEST_SUITE_P(Sqlite, SessionStoreContract,
                         ::testing::Values(session_backend{
                             "sqlite", [] { return std::make_unique<sqlite_session_env>(); }}),
                         session_backend_name);

TEST(SqliteSessionStore, FileCarriesItsKindAndVersion) {
  temp_dir dir;
  const auto file = dir.path() / "sessions.db";
  { sqlite_session_store s(file); }
  EXPECT_EQ(query_int(file, "PRAGMA user_version"), 1);
  EXPECT_EQ(query_int(file, "PRAGMA application_id"), 0x54507365);
}

TEST(SqliteSessionStore, SyncSetsSynchronousFullAsyncNormal) {
  temp_dir dir;
  sqlite_session_store full(dir.path() / "a.db", {.sync = true});
  sqlite_session_store normal(dir.path() / "b.db", {.sync = false});
  // synchronous is per connection: check through each store's own effect on a fresh commit.
  EXPECT_FALSE(full.apply(std::vector<session_op>{put_session{"x", {}}}));
  EXPECT_FALSE(normal.apply(std::vector<session_op>{put_session{"x", {}}}));
}

TEST(SqliteSessionStore, RefusesGarbageNamingTheFile) {
  temp_dir dir;
  const auto file = dir.path() / "sessions.db";
  std::ofstream(file) << std::string(8192, 'x');
  const auto why = open_error_of(file);
  EXPECT_NE(why.find(file.string()), std::string::npos) << why;
  EXPECT_NE(why.find("session database"), std::string::npos) << why;
}

TEST(SqliteSessionStore, RefusesTheIdentityDatabase) {
  temp_dir dir;
  const auto file = dir.path() / "sessions.db";
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
    sqlite3_exec(db,
                 "PRAGMA application_id = 1414556004; PRAGMA user_version = 1; "
                 "CREATE TABLE product (x)",
                 nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  EXPECT_NE(open_error_of(file).find("another application"), std::string::npos);
}

TEST(SqliteSessionStore, RefusesANewerSchema) {
  temp_dir dir;
  const auto file = dir.path() / "sessions.db";
  { sqlite_session_store s(file); }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
    sqlite3_exec(db, "PRAGMA user_version = 9", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  EXPECT_NE(open_error_of(file).find("newer than this build"), std::string::npos);
}

TEST(SqliteSessionStore, RefusesATruncatedFile) {
  temp_dir dir;
  const auto file = dir.path() / "sessions.db";
  {
    sqlite_session_store s(file);
    std::vector<session_op> ops{put_session{"a", {}}};
    const std::string payload(1000, 'p'); // the operations point into it
    for (int i = 1; i <= 200; ++i) {
      ops.push_back(
          put_message{static_cast<std::uint64_t>(i), "t", payload, 1, false, {}, nullptr});
      ops.push_back(put_entry{"a", static_cast<std::uint64_t>(i), static_cast<std::uint64_t>(i), 1,
                              false, entry_state::queued, 0});
    }
    ASSERT_FALSE(s.apply(ops));
  }
  // Closing checkpointed the WAL into the file; cut it in the middle of its pages.
  std::filesystem::resize_file(file, std::filesystem::file_size(file) / 2 + 100);
  std::string why;
  try {
    sqlite_session_store s(file);
    loaded l;
    auto ec = s.load_all(l);
    auto problems = s.check();
    if (ec || !problems || !problems->empty())
      why = "detected";
  } catch (const open_error& e) {
    why = e.what();
  }
  EXPECT_FALSE(why.empty()) << "a truncated file is noticed, at open or at load";
}

// ---- the writer ----

TEST(SessionWriter, CompletionsRunAfterTheirCommitInSubmissionOrder) {
  temp_dir dir;
  sqlite_session_store s(dir.path() / "sessions.db");
  session_writer w(s);
  w.start();
  std::mutex mu;
  std::vector<int> done;
  constexpr int n = 300;
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < n / 3; ++i) {
        const int k = t * 1000 + i;
        w.submit({put_session{std::to_string(k), {}}}, [&, k](std::error_code ec) {
          EXPECT_FALSE(ec);
          std::lock_guard lock(mu);
          done.push_back(k);
        });
      }
    });
  }
  for (auto& t : threads)
    t.join();
  w.stop();
  ASSERT_EQ(done.size(), static_cast<std::size_t>(n));
  // Per submitting thread, completions keep submission order.
  std::vector<int> last(3, -1);
  for (int k : done) {
    EXPECT_GT(k % 1000, last[static_cast<std::size_t>(k / 1000)]);
    last[static_cast<std::size_t>(k / 1000)] = k % 1000;
  }
  EXPECT_EQ(s.counts()->sessions, static_cast<std::uint64_t>(n));
  EXPECT_LE(w.stats().commits.load(), static_cast<std::uint64_t>(n));
  EXPECT_GE(w.stats().max_batch.load(), 1u);
}

TEST(SessionWriter, AFailedCommitIsReportedToEveryCompletionOfItsBatch) {
  temp_dir dir;
  sqlite_session_store s(dir.path() / "sessions.db");
  session_writer w(s);
  // Not started: both submissions land in one batch, committed by stop().
  std::atomic<int> failed{0};
  w.submit({put_session{"a", {}}}, [&](std::error_code ec) { failed += ec ? 1 : 0; });
  w.submit({put_subscription{"a", "x", 9}}, [&](std::error_code ec) { failed += ec ? 1 : 0; });
  w.stop();
  EXPECT_EQ(failed.load(), 2);
  EXPECT_EQ(s.counts()->sessions, 0u);
}

TEST(SessionWriter, SubmitAfterStopCommitsAtOnce) {
  temp_dir dir;
  sqlite_session_store s(dir.path() / "sessions.db");
  session_writer w(s);
  w.start();
  w.stop();
  bool ran = false;
  w.submit({put_session{"late", {}}}, [&](std::error_code ec) { ran = !ec; });
  EXPECT_TRUE(ran);
  EXPECT_EQ(s.counts()->sessions, 1u);
}

} // namespace thingport::store::test
