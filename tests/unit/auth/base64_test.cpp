#include "auth/base64.hpp"

#include <gtest/gtest.h>

#include <random>

namespace thingport::auth {
namespace {

TEST(ApiBase64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> v[] = {{"", ""},
                                                   {"f", "Zg=="},
                                                   {"fo", "Zm8="},
                                                   {"foo", "Zm9v"},
                                                   {"foob", "Zm9vYg=="},
                                                   {"fooba", "Zm9vYmE="},
                                                   {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, coded] : v) {
    EXPECT_EQ(base64_encode(plain), coded);
    EXPECT_EQ(base64_decode(coded), std::optional<std::string>(plain)) << coded;
  }
}

TEST(ApiBase64, BinaryRoundTrip) {
  std::mt19937 rng(7);
  for (std::size_t n = 0; n < 200; ++n) {
    std::string bytes(n, '\0');
    for (auto& c : bytes)
      c = static_cast<char>(rng() & 0xff);
    EXPECT_EQ(base64_decode(base64_encode(bytes)), bytes);
  }
}

TEST(ApiBase64, RefusesMalformed) {
  for (const char* bad : {"Z", "Zg", "Zg=", "Zg===", "====", "Z===", "Zm9v!A==", "Zg==Zg==",
                          "Zm 9v", "Zh==", "Zm9=", "=m9v"}) {
    EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
  }
}

} // namespace
} // namespace thingport::auth
