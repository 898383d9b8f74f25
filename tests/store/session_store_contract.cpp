// The session store contract: what the broker relies on from every backend.
#include "session_store_contract.hpp"

#include <chrono>

namespace thingport::store::test {

namespace {

timestamp ms(std::int64_t v) {
  return timestamp{std::chrono::milliseconds{v}};
}

put_message msg(std::uint64_t id, std::string_view payload = "p", timestamp expires = {}) {
  return put_message{id, "t/1", payload, 1, false, expires, nullptr};
}

put_entry entry(std::string key, std::uint64_t seq, std::uint64_t id,
                entry_state st = entry_state::queued, std::uint16_t pid = 0) {
  return put_entry{std::move(key), seq, id, 1, false, st, pid};
}

} // namespace

TEST_P(SessionStoreContract, EmptyStoreLoadsNothing) {
  auto l = load();
  EXPECT_TRUE(l.order.empty());
  auto c = store_->counts();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->sessions + c->subscriptions + c->messages + c->entries, 0u);
}

TEST_P(SessionStoreContract, LoadsSessionsSubscriptionsMessagesEntriesInThatOrder) {
  ASSERT_FALSE(
      apply({put_session{"d|pk/dn", ms(1000)}, put_session{"c1", ms(2000)},
             put_subscription{"c1", "a/#", 1}, put_subscription{"d|pk/dn", "b/+", 0},
             msg(7, "seven"), entry("c1", 2, 7), msg(9, "nine"),
             entry("c1", 1, 9, entry_state::inflight, 42), put_subscription{"c1", "a/#", 2}}));
  reopen();
  auto l = load();
  EXPECT_EQ(std::string(l.order.begin(), l.order.end()), "ssbbmmee");
  ASSERT_EQ(l.sessions.size(), 2u);
  for (const auto& s : l.sessions)
    EXPECT_EQ(s.created, s.key == "c1" ? ms(2000) : ms(1000)) << s.key;
  ASSERT_EQ(l.subscriptions.size(), 2u);
  for (const auto& s : l.subscriptions) {
    if (s.session_key == "c1") {
      EXPECT_EQ(s.qos, 2) << "a second put replaces the QoS";
    }
  }
  ASSERT_EQ(l.entries.size(), 2u);
  EXPECT_EQ(l.entries[0].seq, 1u) << "entries come in seq order within a session";
  EXPECT_EQ(l.entries[0].message_id, 9u);
  EXPECT_EQ(l.entries[0].state, entry_state::inflight);
  EXPECT_EQ(l.entries[0].packet_id, 42);
  EXPECT_EQ(l.entries[1].seq, 2u);
  EXPECT_EQ(l.entries[1].state, entry_state::queued);
}

TEST_P(SessionStoreContract, AMessageIsStoredOnceForManySessions) {
  ASSERT_FALSE(apply({put_session{"a", {}}, put_session{"b", {}}, msg(1, "shared"),
                      entry("a", 1, 1), msg(1, "shared"), entry("b", 1, 1)}));
  auto c = store_->counts();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->messages, 1u);
  EXPECT_EQ(c->entries, 2u);
  // The message stays while one entry points at it, and goes with the last.
  ASSERT_FALSE(apply({delete_entry{"a", 1, 1}}));
  EXPECT_EQ(store_->counts()->messages, 1u);
  ASSERT_FALSE(apply({delete_entry{"b", 1, 1}}));
  EXPECT_EQ(store_->counts()->messages, 0u);
  EXPECT_EQ(store_->counts()->entries, 0u);
}

TEST_P(SessionStoreContract, BinaryPayloadsRoundTrip) {
  const std::string payload("\0\x01\xff\xfe bytes \0", 11);
  ASSERT_FALSE(apply({put_session{"a", {}}, put_message{5, "t", payload, 2, true, ms(99), nullptr},
                      put_entry{"a", 1, 5, 2, true, entry_state::queued, 0}}));
  auto l = load();
  ASSERT_EQ(l.messages.size(), 1u);
  EXPECT_EQ(l.messages[0].payload, payload);
  EXPECT_EQ(l.messages[0].qos, 2);
  EXPECT_TRUE(l.messages[0].retain);
  EXPECT_EQ(l.messages[0].expires_at, ms(99));
  ASSERT_EQ(l.entries.size(), 1u);
  EXPECT_EQ(l.entries[0].qos, 2);
  EXPECT_TRUE(l.entries[0].retain);
}

TEST_P(SessionStoreContract, EntryStatesMove) {
  ASSERT_FALSE(apply({put_session{"a", {}}, msg(1), entry("a", 1, 1)}));
  ASSERT_FALSE(apply({set_entry_state{"a", 1, entry_state::inflight, 17}}));
  EXPECT_EQ(load().entries.at(0).packet_id, 17);
  ASSERT_FALSE(apply({set_entry_state{"a", 1, entry_state::released, 17}}));
  auto l = load();
  EXPECT_EQ(l.entries.at(0).state, entry_state::released);
  ASSERT_EQ(l.messages.size(), 1u) << "a released entry keeps its message id";
}

TEST_P(SessionStoreContract, DeletingASessionTakesEverythingOfItAlong) {
  ASSERT_FALSE(apply({put_session{"a", {}}, put_session{"b", {}}, put_subscription{"a", "x", 1},
                      put_subscription{"b", "y", 1}, msg(1), msg(2), entry("a", 1, 1),
                      entry("a", 2, 2), entry("b", 1, 2)}));
  ASSERT_FALSE(apply({delete_session{"a"}, delete_session{"missing"}}));
  auto l = load();
  ASSERT_EQ(l.sessions.size(), 1u);
  EXPECT_EQ(l.sessions[0].key, "b");
  ASSERT_EQ(l.subscriptions.size(), 1u);
  ASSERT_EQ(l.entries.size(), 1u);
  ASSERT_EQ(l.messages.size(), 1u);
  EXPECT_EQ(l.messages[0].id, 2u);
  EXPECT_EQ(store_->counts()->messages, 1u) << "message 1 had no other entry: gone";
}

TEST_P(SessionStoreContract, UnsubscribeRemovesTheFilter) {
  ASSERT_FALSE(
      apply({put_session{"a", {}}, put_subscription{"a", "x", 1}, put_subscription{"a", "y", 1}}));
  ASSERT_FALSE(apply({delete_subscription{"a", "x"}, delete_subscription{"a", "nope"}}));
  auto l = load();
  ASSERT_EQ(l.subscriptions.size(), 1u);
  EXPECT_EQ(l.subscriptions[0].filter, "y");
}

TEST_P(SessionStoreContract, ExpiredMessagesGoWithTheirEntries) {
  ASSERT_FALSE(apply({put_session{"a", {}}, msg(1, "old", ms(1000)), msg(2, "new", ms(5000)),
                      msg(3, "forever"), entry("a", 1, 1), entry("a", 2, 2), entry("a", 3, 3)}));
  ASSERT_FALSE(apply({delete_expired{ms(1000)}}));
  auto l = load();
  ASSERT_EQ(l.entries.size(), 2u);
  EXPECT_EQ(l.entries[0].message_id, 2u);
  EXPECT_EQ(l.entries[1].message_id, 3u);
  EXPECT_EQ(store_->counts()->messages, 2u);
}

TEST_P(SessionStoreContract, WritesForAMissingSessionAreDroppedNotFailed) {
  // A batch mixes sessions: one deleted meanwhile must not cost the others their commit.
  ASSERT_FALSE(apply({put_session{"a", {}}, msg(1), entry("gone", 1, 1),
                      put_subscription{"gone", "x", 1}, entry("a", 1, 1)}));
  auto l = load();
  EXPECT_EQ(l.sessions.size(), 1u);
  EXPECT_EQ(l.entries.size(), 1u);
  EXPECT_TRUE(l.subscriptions.empty());
}

TEST_P(SessionStoreContract, ABatchIsAllOrNothing) {
  ASSERT_FALSE(apply({put_session{"a", {}}}));
  // QoS 7 is refused: the session written before it in the same batch is not kept.
  EXPECT_TRUE(apply({put_session{"b", {}}, put_subscription{"a", "x", 7}}));
  auto l = load();
  ASSERT_EQ(l.sessions.size(), 1u);
  EXPECT_EQ(l.sessions[0].key, "a");
  EXPECT_TRUE(l.subscriptions.empty());
  // And the store still works.
  EXPECT_FALSE(apply({put_session{"c", {}}}));
  EXPECT_EQ(load().sessions.size(), 2u);
}

TEST_P(SessionStoreContract, PutEntryReplacesTheSameSeq) {
  ASSERT_FALSE(apply({put_session{"a", {}}, msg(1), entry("a", 1, 1),
                      entry("a", 1, 1, entry_state::inflight, 3)}));
  auto l = load();
  ASSERT_EQ(l.entries.size(), 1u);
  EXPECT_EQ(l.entries[0].packet_id, 3);
}

TEST_P(SessionStoreContract, UsedBytesGrowWithStoredPayloadsAndShrinkWhenTheyGo) {
  const auto empty = store_->used_bytes();
  ASSERT_TRUE(empty);
  const std::string big(256 * 1024, 'x');
  std::vector<session_op> ops{put_session{"a", {}}};
  for (std::uint64_t id = 1; id <= 8; ++id) {
    ops.push_back(put_message{id, "t/1", big, 1, false, {}, nullptr});
    ops.push_back(entry("a", id, id));
  }
  ASSERT_FALSE(apply(std::move(ops)));
  const auto full = store_->used_bytes();
  ASSERT_TRUE(full);
  EXPECT_GE(*full, *empty + 8 * big.size()); // at least the payloads, once each
  ASSERT_FALSE(apply({delete_session{"a"}}));
  const auto after = store_->used_bytes();
  ASSERT_TRUE(after);
  EXPECT_LT(*after, *empty + big.size()); // freed space is no longer counted
}

TEST_P(SessionStoreContract, CheckFindsNothingWrongInAHealthyStore) {
  ASSERT_FALSE(apply({put_session{"a", {}}, msg(1), entry("a", 1, 1)}));
  auto problems = store_->check();
  ASSERT_TRUE(problems);
  EXPECT_TRUE(problems->empty());
}

} // namespace thingport::store::test
