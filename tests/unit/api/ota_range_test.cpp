#include "api/ota_range.hpp"

#include <gtest/gtest.h>

namespace thingport::api {
namespace {

byte_range partial(std::string_view h, std::uint64_t size) {
  const auto r = parse_range(h, size);
  EXPECT_EQ(r.kind, range_kind::partial) << h;
  return r.range;
}

TEST(OtaRange, OneRangeInEachForm) {
  EXPECT_EQ(partial("bytes=0-99", 1000), (byte_range{0, 99}));
  EXPECT_EQ(partial("bytes=100-", 1000), (byte_range{100, 999}));
  EXPECT_EQ(partial("bytes=-10", 1000), (byte_range{990, 999}));
  EXPECT_EQ(partial(" Bytes=5-5 ", 1000), (byte_range{5, 5}));
  // the end is clipped to the file; a suffix longer than the file is the whole file
  EXPECT_EQ(partial("bytes=900-5000", 1000), (byte_range{900, 999}));
  EXPECT_EQ(partial("bytes=-5000", 1000), (byte_range{0, 999}));
}

TEST(OtaRange, OutsideTheFileIsUnsatisfiable) {
  EXPECT_EQ(parse_range("bytes=1000-", 1000).kind, range_kind::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=1000-2000", 1000).kind, range_kind::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=-0", 1000).kind, range_kind::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=0-", 0).kind, range_kind::unsatisfiable);
}

TEST(OtaRange, AnythingElseIsIgnored) {
  for (const char* h :
       {"", "bytes", "bytes=", "bytes=-", "items=0-1", "bytes=5-1", "bytes=a-b", "bytes=0-1,5-6",
        "bytes=1-2-3", "bytes=99999999999999999999-", "bytes=+1-2", "bytes= -"})
    EXPECT_EQ(parse_range(h, 1000).kind, range_kind::none) << h;
}

} // namespace
} // namespace thingport::api
