#include "api/token.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <tuple>

namespace thingport::api {
namespace {

namespace fs = std::filesystem;

class ApiToken : public ::testing::Test {
protected:
  ApiToken() {
    dir = fs::temp_directory_path() /
          ("thingport-token-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~ApiToken() override { fs::remove_all(dir); }
  fs::path dir;
};

TEST_F(ApiToken, GeneratedOnceWithMode0600) {
  const auto first = load_or_create_token("", dir);
  EXPECT_TRUE(first.generated);
  EXPECT_EQ(first.file, dir / "admin.token");
  EXPECT_GE(first.value.size(), 32u);
  EXPECT_EQ(first.value.find_first_not_of("0123456789abcdef"), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat(first.file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  const auto again = load_or_create_token("", dir);
  EXPECT_FALSE(again.generated);
  EXPECT_EQ(again.value, first.value);
  EXPECT_EQ(read_token_file(first.file), first.value);
}

TEST_F(ApiToken, ConfiguredWinsAndWritesNothing) {
  const auto t = load_or_create_token("s3cret-token", dir);
  EXPECT_EQ(t.value, "s3cret-token");
  EXPECT_FALSE(t.generated);
  EXPECT_FALSE(fs::exists(dir / "admin.token"));
  EXPECT_THROW(load_or_create_token("has space", dir), std::runtime_error);
}

TEST_F(ApiToken, FileIsTrimmedAndChecked) {
  std::ofstream(dir / "admin.token") << "  abc123\n\n";
  EXPECT_EQ(load_or_create_token("", dir).value, "abc123");
  std::ofstream(dir / "admin.token", std::ios::trunc) << "\n";
  EXPECT_THROW(load_or_create_token("", dir), std::runtime_error);
  EXPECT_THROW(read_token_file(dir / "missing"), std::runtime_error);
}

TEST(ApiBearer, Matches) {
  const std::tuple<const char*, const char*, bool> cases[] = {
      {"Bearer abc", "abc", true},  {"bearer abc", "abc", true},   {"BEARER  abc ", "abc", true},
      {"Bearer abd", "abc", false}, {"Bearer abcd", "abc", false}, {"Bearer ", "abc", false},
      {"Basic abc", "abc", false},  {"abc", "abc", false},         {"", "abc", false},
      {"Bearer ", "", false}}; // no token configured: nothing matches
  for (const auto& [header, token, want] : cases)
    EXPECT_EQ(bearer_matches(header, token), want) << header << " / " << token;
}

} // namespace
} // namespace thingport::api
