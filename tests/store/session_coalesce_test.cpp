// What a batch puts and deletes again never reaches the store (store/session_coalesce.hpp):
// which operations go, which stay, and, over many generated batches, a SQLite store given the
// coalesced batches ends exactly like one given every operation.
#include "store/session_coalesce.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "store/session_sqlite.hpp"
#include "temp_dir.hpp"

namespace thingport::store::test {
namespace {

put_message msg(std::uint64_t id) {
  static const std::string payload = "p";
  return put_message{id, "t", payload, 1, false, {}, {}};
}
put_entry entry(const std::string& key, std::uint64_t seq, std::uint64_t id, bool fresh = true) {
  return put_entry{key, seq, id, 1, false, entry_state::queued, 0, fresh};
}

// The kinds of the operations left, in order ("M" message, "E" entry, "S" state, "D" delete,
// "X" delete_session).
std::string kinds(const std::vector<session_op>& ops) {
  std::string out;
  for (const auto& op : ops)
    out += std::visit(
        [](const auto& o) -> char {
          using T = std::decay_t<decltype(o)>;
          if constexpr (std::is_same_v<T, put_message>)
            return 'M';
          else if constexpr (std::is_same_v<T, put_entry>)
            return 'E';
          else if constexpr (std::is_same_v<T, set_entry_state>)
            return 'S';
          else if constexpr (std::is_same_v<T, delete_entry>)
            return 'D';
          else if constexpr (std::is_same_v<T, delete_session>)
            return 'X';
          else
            return '?';
        },
        op);
  return out;
}

TEST(SessionCoalesce, AnEntryDeliveredInTheBatchLeavesNothing) {
  std::vector<session_op> ops{msg(7), entry("a", 1, 7),
                              set_entry_state{"a", 1, entry_state::inflight, 3},
                              delete_entry{"a", 1, 7}};
  EXPECT_EQ(coalesce(ops), 4u);
  EXPECT_TRUE(ops.empty());
}

TEST(SessionCoalesce, AMessageAnotherEntryStillNeedsIsKept) {
  std::vector<session_op> ops{msg(7), entry("a", 1, 7), entry("b", 4, 7), delete_entry{"a", 1, 7}};
  EXPECT_EQ(coalesce(ops), 2u);
  EXPECT_EQ(kinds(ops), "ME");
  EXPECT_EQ(std::get<put_entry>(ops[1]).session_key, "b");
}

TEST(SessionCoalesce, ADeleteOfAnEntryStoredBeforeIsApplied) {
  // Entry (a, 1) of an earlier batch; a put that is not fresh may replace a stored entry.
  std::vector<session_op> ops{delete_entry{"a", 1, 7}, msg(8), entry("a", 2, 8, false),
                              delete_entry{"a", 2, 8}};
  EXPECT_EQ(coalesce(ops), 0u);
  EXPECT_EQ(kinds(ops), "DMED");
}

TEST(SessionCoalesce, ADeleteSessionEndsThePairing) {
  std::vector<session_op> ops{msg(7), entry("a", 1, 7), delete_session{"a"},
                              delete_entry{"a", 1, 7}};
  EXPECT_EQ(coalesce(ops), 0u);
  EXPECT_EQ(kinds(ops), "MEXD");
}

TEST(SessionCoalesce, ADeleteMatchesTheLatestPutOfItsEntry) {
  // A state change of another entry stays; the later put of the same seq pairs with the delete.
  std::vector<session_op> ops{
      msg(7), entry("a", 1, 7, false), set_entry_state{"b", 9, entry_state::inflight, 1},
      msg(8), entry("a", 1, 8),        delete_entry{"a", 1, 8}};
  EXPECT_EQ(coalesce(ops), 3u);
  EXPECT_EQ(kinds(ops), "MES");
}

// Everything a store holds, as text (load_all and the row counts: an orphaned message shows).
class dump final : public session_sink {
public:
  std::vector<std::string> rows;
  void on_session(const stored_session& s) override { rows.push_back("s " + s.key); }
  void on_subscription(const stored_subscription& s) override {
    rows.push_back("f " + s.session_key + " " + s.filter);
  }
  void on_message(const stored_message& m) override { rows.push_back("m " + std::to_string(m.id)); }
  void on_entry(const stored_entry& e) override {
    rows.push_back("e " + e.session_key + " " + std::to_string(e.seq) + " " +
                   std::to_string(e.message_id) + " " + std::to_string(static_cast<int>(e.state)) +
                   " " + std::to_string(e.packet_id));
  }
};

std::vector<std::string> contents(session_store& s) {
  dump d;
  EXPECT_FALSE(s.load_all(d));
  const auto c = s.counts();
  EXPECT_TRUE(c.has_value());
  if (c)
    d.rows.push_back("counts " + std::to_string(c->sessions) + " " + std::to_string(c->entries) +
                     " " + std::to_string(c->messages));
  return d.rows;
}

TEST(SessionCoalesce, TheStoreEndsAsIfEveryOperationHadBeenApplied) {
  temp_dir dir;
  sqlite_session_store whole(dir.path() / "whole.db");
  sqlite_session_store coalesced(dir.path() / "coalesced.db");
  std::mt19937 rng(20261206);
  const std::vector<std::string> keys{"a", "b", "c"};
  std::vector<std::uint64_t> next_seq(keys.size(), 1);
  std::vector<std::set<std::pair<std::uint64_t, std::uint64_t>>> live(keys.size()); // seq, msg
  std::uint64_t next_msg = 1;
  std::size_t cancelled = 0;
  for (const auto& k : keys)
    ASSERT_FALSE(whole.apply(std::vector<session_op>{put_session{k, {}}}));
  for (const auto& k : keys)
    ASSERT_FALSE(coalesced.apply(std::vector<session_op>{put_session{k, {}}}));
  for (int batch = 0; batch < 300; ++batch) {
    std::vector<session_op> ops;
    const int n = 1 + static_cast<int>(rng() % 30);
    for (int i = 0; i < n; ++i) {
      const auto s = rng() % keys.size();
      const auto& key = keys[s];
      switch (rng() % 10) {
      case 0:
      case 1:
      case 2: { // a new message for one or two sessions
        const auto id = next_msg++;
        ops.push_back(msg(id));
        for (auto t : {s, (s + 1 + rng() % 2) % keys.size()}) {
          ops.push_back(entry(keys[t], next_seq[t], id));
          live[t].insert({next_seq[t]++, id});
          if (rng() % 2 == 0)
            break;
        }
        break;
      }
      case 3:
      case 4: // a state change
        if (!live[s].empty()) {
          const auto it = std::next(live[s].begin(), static_cast<long>(rng() % live[s].size()));
          ops.push_back(set_entry_state{key, it->first, entry_state::inflight,
                                        static_cast<std::uint16_t>(1 + rng() % 100)});
        }
        break;
      case 5:
      case 6:
      case 7:
      case 8: // an acknowledgement
        if (!live[s].empty()) {
          const auto it = std::next(live[s].begin(), static_cast<long>(rng() % live[s].size()));
          ops.push_back(delete_entry{key, it->first, it->second});
          live[s].erase(it);
        }
        break;
      default:
        if (rng() % 4 == 0) { // the session discarded and made again
          ops.push_back(delete_session{key});
          ops.push_back(put_session{key, {}});
          live[s].clear();
        } else if (!live[s].empty()) { // an entry written again as it is (not fresh)
          const auto it = live[s].begin();
          ops.push_back(msg(it->second));
          ops.push_back(entry(key, it->first, it->second, false));
        }
      }
    }
    auto fewer = ops;
    cancelled += coalesce(fewer);
    ASSERT_FALSE(whole.apply(ops)) << "batch " << batch;
    ASSERT_FALSE(coalesced.apply(fewer)) << "batch " << batch;
    ASSERT_EQ(contents(whole), contents(coalesced)) << "after batch " << batch;
  }
  EXPECT_GT(cancelled, 200u); // the generator does pair puts with deletes in one batch
}

} // namespace
} // namespace thingport::store::test
