// The PostgreSQL session store of a cluster: the session store contract on a real PostgreSQL 15
// (pg_server.hpp), then what only it does: nodes sharing the tables without seeing each other's
// rows, the lock a node holds on its rows, and a survivor taking a dead node's sessions over.
#include "store/session_pg.hpp"
#include "store/session_sqlite.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "pg_server.hpp"
#include "session_store_contract.hpp"
#include "temp_dir.hpp"

namespace thingport::store::test {

namespace {

using namespace std::chrono_literals;

pg::options options_for(const std::string& url) {
  return pg::options{.url = url, .reconnect_interval = std::chrono::milliseconds(0)};
}

std::unique_ptr<pg_session_store> open_node(const std::string& url, const std::string& node,
                                            std::chrono::milliseconds wait = 5s) {
  return std::make_unique<pg_session_store>(
      options_for(url), node, pg_session_options{.lock_wait = wait, .size_every = {}});
}

class pg_session_env final : public session_backend_env {
public:
  std::unique_ptr<session_store> open() override { return open_node(url_, "n1"); }

private:
  std::string url_ = pg_server::shared().create_database();
};

timestamp ms(std::int64_t v) {
  return timestamp{std::chrono::milliseconds(v)};
}

// A session `key` with one subscription and `n` queued messages (ids from `first`).
std::vector<session_op> session_with(const std::string& key, std::uint64_t first, int n) {
  std::vector<session_op> ops{put_session{key, ms(1)}, put_subscription{key, "t/" + key, 1}};
  for (int i = 0; i < n; ++i) {
    const auto id = first + static_cast<std::uint64_t>(i);
    // The operation points into its text: `hold` keeps it alive.
    auto text = std::make_shared<const std::pair<std::string, std::string>>(
        "t/" + key, "m" + std::to_string(i));
    ops.emplace_back(put_message{id, text->first, text->second, 1, false, {}, text});
    ops.emplace_back(put_entry{key, id, id, 1, false, entry_state::queued, 0});
  }
  return ops;
}

// A dead node's lock is free once the server has seen its connection close: soon, not at once.
bool hold_within(pg_session_vault& v, const std::string& node, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto got = v.hold(node);
    if (got && *got)
      return true;
    if (std::chrono::steady_clock::now() >= until)
      return false;
    std::this_thread::sleep_for(20ms);
  }
}

} // namespace

INSTANTIATE_TEST_SUITE_P(Postgres, SessionStoreContract,
                         ::testing::Values(session_backend{
                             "postgres", [] { return std::make_unique<pg_session_env>(); }}),
                         session_backend_name);

TEST(PgSessionStore, NodesShareTheTablesButNotTheirRows) {
  const auto url = pg_server::shared().create_database();
  auto a = open_node(url, "a");
  auto b = open_node(url, "b");
  ASSERT_FALSE(a->apply(session_with("c1", 1, 2)));
  ASSERT_FALSE(b->apply(session_with("c1", 1, 1)))
      << "the same key and message ids on another node";
  auto ca = a->counts();
  auto cb = b->counts();
  ASSERT_TRUE(ca && cb);
  EXPECT_EQ(ca->messages, 2u);
  EXPECT_EQ(cb->messages, 1u);
  ASSERT_FALSE(b->apply(std::vector<session_op>{delete_session{"c1"}}));
  loaded la;
  ASSERT_FALSE(a->load_all(la));
  EXPECT_EQ(la.sessions.size(), 1u) << "deleting b's session left a's";
  EXPECT_EQ(la.entries.size(), 2u);
  EXPECT_EQ(b->counts()->sessions, 0u);
}

TEST(PgSessionStore, ASecondProcessWithTheSameNodeNameIsRefused) {
  const auto url = pg_server::shared().create_database();
  auto a = open_node(url, "a");
  try {
    open_node(url, "a", 300ms);
    FAIL() << "opened while the node's rows were locked";
  } catch (const open_error& e) {
    EXPECT_NE(std::string(e.what()).find("locked by another process"), std::string::npos)
        << e.what();
  }
  a.reset();
  EXPECT_NO_THROW(open_node(url, "a")) << "free again once the first one is gone";
}

TEST(PgSessionVault, ASurvivorTakesADeadNodesSessionsOneByOneOrAll) {
  const auto url = pg_server::shared().create_database();
  auto dead = open_node(url, "dead");
  ASSERT_FALSE(dead->apply(session_with("k1", 10, 3)));
  ASSERT_FALSE(dead->apply(session_with("k2", 20, 1)));
  pg_session_vault v(options_for(url), "alive");
  auto who = v.holder("k1");
  ASSERT_TRUE(who);
  ASSERT_TRUE(*who);
  EXPECT_EQ(**who, "dead");
  EXPECT_FALSE(v.holder("nobody").value());
  auto held = v.hold("dead");
  ASSERT_TRUE(held);
  EXPECT_FALSE(*held) << "a running node's rows are not for the taking";

  dead.reset(); // the process is gone: PostgreSQL drops its connection and the lock
  ASSERT_TRUE(hold_within(v, "dead", 5s));
  loaded one;
  ASSERT_FALSE(v.load("dead", "k1", one));
  ASSERT_EQ(one.sessions.size(), 1u);
  EXPECT_EQ(one.sessions[0].key, "k1");
  EXPECT_EQ(one.subscriptions.size(), 1u);
  EXPECT_EQ(one.messages.size(), 3u);
  ASSERT_EQ(one.entries.size(), 3u);
  EXPECT_EQ(one.entries[0].message_id, 10u);
  try {
    open_node(url, "dead", 300ms);
    FAIL() << "the node started while a survivor held its rows";
  } catch (const open_error&) {
  }
  const std::vector<std::string> k1{"k1"};
  ASSERT_FALSE(v.erase("dead", k1));
  EXPECT_FALSE(v.holder("k1").value()) << "taken: gone from the dead node's rows";
  EXPECT_EQ(v.holder("k2").value(), "dead");
  EXPECT_EQ(v.nodes().value(), std::vector<std::string>{"dead"});
  v.release("dead");

  auto back = open_node(url, "dead"); // the node comes back after all: what is left is its own
  loaded rest;
  ASSERT_FALSE(back->load_all(rest));
  ASSERT_EQ(rest.sessions.size(), 1u);
  EXPECT_EQ(rest.sessions[0].key, "k2");
  EXPECT_EQ(back->counts()->messages, 1u) << "k1's messages went with it";
}

TEST(PgSessionVault, EraseRefusesOnceTheLockWasLostWithItsConnection) {
  auto& server = pg_server::shared();
  const auto url = server.create_database();
  { open_node(url, "dead")->apply(session_with("k", 1, 1)); }
  pg_session_vault v(options_for(url), "alive");
  ASSERT_TRUE(hold_within(v, "dead", 5s));
  server.stop();
  server.start(); // every connection broke: the vault's lock is gone
  const std::vector<std::string> k{"k"};
  EXPECT_TRUE(v.erase("dead", k)) << "deleted rows it no longer held";
  EXPECT_EQ(v.holder("k").value(), "dead");
}

TEST(PgSessionStore, ANodesSessionsDbIsCopiedInWhole) {
  temp_dir dir;
  sqlite_session_store from(dir.path() / "sessions.db");
  ASSERT_FALSE(from.apply(session_with("k1", 1, 3)));
  ASSERT_FALSE(from.apply(session_with("k2", 9, 1)));
  ASSERT_FALSE(
      from.apply(std::vector<session_op>{set_entry_state{"k1", 1, entry_state::inflight, 77}}));
  auto to = open_node(pg_server::shared().create_database(), "n");
  auto copied = copy_sessions(from, *to);
  ASSERT_TRUE(copied) << copied.error().message();
  EXPECT_EQ(copied->sessions, 2u);
  EXPECT_EQ(copied->messages, 4u);
  EXPECT_EQ(copied->entries, 4u);
  loaded a, b;
  ASSERT_FALSE(from.load_all(a));
  ASSERT_FALSE(to->load_all(b));
  EXPECT_EQ(a.order, b.order);
  ASSERT_EQ(b.entries.size(), a.entries.size());
  for (std::size_t i = 0; i < a.entries.size(); ++i) {
    EXPECT_EQ(b.entries[i].session_key, a.entries[i].session_key);
    EXPECT_EQ(b.entries[i].seq, a.entries[i].seq);
    EXPECT_EQ(b.entries[i].state, a.entries[i].state);
    EXPECT_EQ(b.entries[i].packet_id, a.entries[i].packet_id);
  }
  ASSERT_EQ(b.messages.size(), a.messages.size());
  for (std::size_t i = 0; i < a.messages.size(); ++i)
    EXPECT_EQ(b.messages[i].payload, a.messages[i].payload);
}

} // namespace thingport::store::test
