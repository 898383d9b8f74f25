#include "auth/identity.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cctype>
#include <cstdint>
#include <set>
#include <string>

namespace thingport::auth {
namespace {

using namespace std::string_literals;

TEST(AuthIdentity, DeviceNames) {
  EXPECT_TRUE(valid_device_name("dev1"));
  EXPECT_TRUE(valid_device_name("Dev_1-a@b.c:d"));
  EXPECT_TRUE(valid_device_name(std::string(32, 'd')));
  EXPECT_FALSE(valid_device_name("dev"));
  EXPECT_FALSE(valid_device_name(std::string(33, 'd')));
  EXPECT_FALSE(valid_device_name(""));
  for (const std::string& bad : {"dev/1"s, "dev+"s, "dev#1"s, "dev\0x"s, "de v"s, "dev|1"s,
                                 "dev&1"s, "d\xc3\xa9v1"s, "dev$1"s}) {
    EXPECT_FALSE(valid_device_name(bad)) << bad;
  }
}

TEST(AuthIdentity, ProductKeys) {
  EXPECT_TRUE(valid_product_key("a1B2c3D4e5F"));
  EXPECT_TRUE(valid_product_key("p"));
  EXPECT_TRUE(valid_product_key("pk_1-x"));
  EXPECT_TRUE(valid_product_key(std::string(32, 'k')));
  EXPECT_FALSE(valid_product_key(""));
  EXPECT_FALSE(valid_product_key(std::string(33, 'k')));
  for (const std::string& bad : {"p/k"s, "p+k"s, "p#k"s, "p\0k"s, "p.k"s, "p@k"s, "p k"s}) {
    EXPECT_FALSE(valid_product_key(bad)) << bad;
  }
  EXPECT_TRUE(valid_app_key("appKey123"));
  EXPECT_FALSE(valid_app_key("app/key"));
}

TEST(AuthIdentity, IotIdIsStableAndPerDeviceLife) {
  const auto a = iot_id("pk", "dev1", 1700000000000);
  EXPECT_EQ(a.size(), 24u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(a, iot_id("pk", "dev1", 1700000000000)); // stable
  EXPECT_NE(a, iot_id("pk", "dev2", 1700000000000)); // per device
  EXPECT_NE(a, iot_id("pk", "dev1", 1700000000001)); // made again: a new one
}

TEST(AuthIdentity, HexBothWays) {
  const std::array<std::uint8_t, 4> bytes{0x00, 0x9f, 0xa0, 0xff};
  EXPECT_EQ(to_hex(bytes), "009fa0ff");
  std::array<std::uint8_t, 4> back{};
  ASSERT_TRUE(from_hex("009fa0ff", back));
  EXPECT_EQ(back, bytes);
  // Only exactly 2 * out.size() lower-case hex digits.
  EXPECT_FALSE(from_hex("009FA0FF", back));
  EXPECT_FALSE(from_hex("009fa0f", back));
  EXPECT_FALSE(from_hex("009fa0ff00", back));
  EXPECT_FALSE(from_hex("009fa0fg", back));
  EXPECT_FALSE(from_hex(std::string("009fa0f\0", 8), back));
  // An iotId reads back whole.
  const auto id = iot_id("pk1", "dev1", 1);
  std::array<std::uint8_t, 12> packed{};
  ASSERT_TRUE(from_hex(id, packed));
  EXPECT_EQ(to_hex(packed), id);
}

TEST(AuthIdentity, Username) {
  const auto u = parse_username("device&pk");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->device_name, "device");
  EXPECT_EQ(u->product_key, "pk");
  EXPECT_FALSE(parse_username("devicepk"));
  EXPECT_FALSE(parse_username(""));
  EXPECT_FALSE(parse_username("&"));
  EXPECT_FALSE(parse_username("device&"));
  EXPECT_FALSE(parse_username("&pk"));
  EXPECT_FALSE(parse_username("dev&ice&pk"));
  EXPECT_FALSE(parse_username("dev/ice&pk"));
  EXPECT_FALSE(parse_username("device&p/k"));
  EXPECT_FALSE(parse_username("dev+ice&pk"));
  EXPECT_FALSE(parse_username("device&pk#"));
  EXPECT_FALSE(parse_username("device&#"));
  EXPECT_FALSE(parse_username("dev\0ce&pk"s));
  EXPECT_FALSE(parse_username("device&pk\0"s));
  EXPECT_FALSE(parse_username("dev&pk")); // 3-char device name
}

TEST(AuthIdentity, Generated) {
  const std::string pk = generate_product_key();
  EXPECT_EQ(pk.size(), 11U);
  EXPECT_TRUE(valid_product_key(pk));
  for (char c : pk) {
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << pk;
  }
  const std::string secret = generate_secret();
  EXPECT_EQ(secret.size(), 32U);
  EXPECT_EQ(secret.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_TRUE(valid_device_name(generate_device_name()));
  EXPECT_TRUE(valid_app_key(generate_app_key()));
  EXPECT_EQ(generate_device_token().size(), 32U);
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    seen.insert(generate_product_key());
    seen.insert(generate_secret());
  }
  EXPECT_EQ(seen.size(), 200U);
}

TEST(AuthIdentity, RandomAlphanumericUsesWholeAlphabet) {
  const std::string s = random_alphanumeric(20000);
  EXPECT_EQ(s.size(), 20000U);
  const std::set<char> chars(s.begin(), s.end());
  EXPECT_EQ(chars.size(), 62U);
  EXPECT_EQ(random_alphanumeric(0), "");
  EXPECT_EQ(random_hex(0), "");
}

} // namespace
} // namespace thingport::auth
