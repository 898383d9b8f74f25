// A configuration push's journal (platform/push_journal.hpp): what is written reads back; a
// torn last line, a line naming no device and a file that is not a journal are told apart.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "../../store/temp_dir.hpp"
#include "platform/push_journal.hpp"

namespace thingport::platform {
namespace {

using store::test::temp_dir;

void append_raw(const std::filesystem::path& f, const std::string& text) {
  std::ofstream out(f, std::ios::binary | std::ios::app);
  out << text;
}

TEST(PushJournal, WhatIsWrittenReadsBack) {
  temp_dir dir;
  const auto f = dir.path() / "c.push";
  const std::vector<std::string> names = {"dev-a", "dev-b", "dev-c"};
  auto j = push_journal::create(f, {"pk1", 120, 1700000000000}, names);
  ASSERT_TRUE(j);
  ASSERT_TRUE(j->append(
      push_journal::line({.kind = 's', .index = 0, .message_id = 42, .at_ms = 1700000000100}) +
          push_journal::line({.kind = 'o', .index = 1, .at_ms = 1700000000200}),
      true));
  ASSERT_TRUE(
      j->append(push_journal::line({.kind = 'r', .index = 0, .code = 400, .at_ms = 5}), false));
  j.reset();
  auto c = push_journal::read(f, 100);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->head.product_key, "pk1");
  EXPECT_EQ(c->head.rate_per_minute, 120U);
  EXPECT_EQ(c->head.started_ms, 1700000000000);
  EXPECT_EQ(c->names, names);
  ASSERT_EQ(c->steps.size(), 3U);
  EXPECT_EQ(c->steps[0].kind, 's');
  EXPECT_EQ(c->steps[0].message_id, 42U);
  EXPECT_EQ(c->steps[1].kind, 'o');
  EXPECT_EQ(c->steps[1].index, 1U);
  EXPECT_EQ(c->steps[2].kind, 'r');
  EXPECT_EQ(c->steps[2].code, 400);
  // reopened, it appends after what is there
  auto again = push_journal::reopen(f);
  ASSERT_TRUE(again);
  ASSERT_TRUE(again->append(push_journal::line({.kind = 'o', .index = 2, .at_ms = 9}), true));
  EXPECT_EQ(push_journal::read(f, 100)->steps.size(), 4U);
}

TEST(PushJournal, ATornLastLineAndBadLinesAreSkipped) {
  temp_dir dir;
  const auto f = dir.path() / "c.push";
  ASSERT_TRUE(push_journal::create(f, {"pk", 60, 1}, std::vector<std::string>{"a", "b"}));
  append_raw(f, "s 0 7 100\n"   // fine
                "s 5 8 100\n"   // no device 5
                "x 1 100\n"     // no such step
                "r 1 two 100\n" // not a number
                "s 1 9 10");    // torn: no newline
  auto c = push_journal::read(f, 100);
  ASSERT_TRUE(c);
  ASSERT_EQ(c->steps.size(), 1U);
  EXPECT_EQ(c->steps[0].message_id, 7U);
}

TEST(PushJournal, NotAJournalOrTooManyDevicesIsRefused) {
  temp_dir dir;
  const auto f = dir.path() / "c.push";
  append_raw(f, "hello\n");
  EXPECT_FALSE(push_journal::read(f, 100));
  const auto g = dir.path() / "d.push";
  ASSERT_TRUE(push_journal::create(g, {"pk", 60, 1}, std::vector<std::string>{"a", "b", "c"}));
  EXPECT_FALSE(push_journal::read(g, 2)); // more devices than a push may have
  EXPECT_TRUE(push_journal::read(g, 3));
  const auto h = dir.path() / "e.push";
  append_raw(h, "thingport-push 1 pk 60 1 3\na\nb\n"); // the list cut short
  EXPECT_FALSE(push_journal::read(h, 100));
  EXPECT_FALSE(push_journal::read(dir.path() / "missing.push", 100));
}

} // namespace
} // namespace thingport::platform
