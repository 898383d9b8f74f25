#include "broker/compact_string.hpp"

#include <string>
#include <utility>

#include <gtest/gtest.h>

namespace thingport::broker {
namespace {

TEST(compact_string, holds_its_text_in_one_pointer) {
  static_assert(sizeof(compact_string) == sizeof(void*));
  const std::string id = "dev-1|securemode=3,signmethod=hmacsha256,timestamp=1700000000000|";
  const compact_string s(id);
  EXPECT_EQ(s.view(), id);
  EXPECT_FALSE(s.empty());
  EXPECT_NE(s.view().data(), id.data()); // its own copy
}

TEST(compact_string, empty_text_has_no_block) {
  const compact_string none;
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.view(), "");
  const compact_string from_empty{std::string_view{}};
  EXPECT_TRUE(from_empty.empty());
  EXPECT_EQ(from_empty.view().size(), 0u);
}

TEST(compact_string, copies_and_moves_keep_the_text) {
  compact_string a("client-a");
  compact_string b(a);
  EXPECT_EQ(b.view(), "client-a");
  EXPECT_NE(a.view().data(), b.view().data());
  compact_string c(std::move(a));
  EXPECT_EQ(c.view(), "client-a");
  EXPECT_TRUE(a.empty()); // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  b = compact_string("another id, longer than fifteen characters");
  EXPECT_EQ(b.view(), "another id, longer than fifteen characters");
  b = c;
  EXPECT_EQ(b.view(), "client-a");
  b = compact_string();
  EXPECT_TRUE(b.empty());
}

TEST(compact_string, keeps_bytes_that_are_not_text) {
  const std::string bytes("a\0b\xff", 4);
  const compact_string s(bytes);
  EXPECT_EQ(s.view(), bytes);
  EXPECT_EQ(s.view().size(), 4u);
}

} // namespace
} // namespace thingport::broker
