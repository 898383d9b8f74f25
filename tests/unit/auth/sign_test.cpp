#include "auth/sign.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

namespace thingport::auth {
namespace {

// Expected values computed with `printf %s CONTENT | openssl dgst -<md> -hmac KEY`.
constexpr std::string_view worked_content = "clientId12345deviceNamedeviceproductKeypktimestamp789";

device_sign_fields worked_fields() {
  return {"12345", "device", "pk", "789"};
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

TEST(AuthSign, WorkedExampleFromProtocol) {
  EXPECT_EQ(device_sign_content(worked_fields()), worked_content);
  EXPECT_EQ(device_sign(sign_method::hmacsha1, "secret", worked_fields()),
            "fafd82a3d602b37fb0fa8b7892f24a477f851a14");
  EXPECT_TRUE(verify_hex_hmac(sign_method::hmacsha1, "secret", worked_content,
                              "FAFD82A3D602B37FB0FA8B7892F24A477F851A14"));
}

TEST(AuthSign, EachMethodAgainstOpenSslCli) {
  EXPECT_EQ(hmac_hex(sign_method::hmacmd5, "secret", worked_content),
            "14b198324fe55e1d3c88f2e705e201ee");
  EXPECT_EQ(hmac_hex(sign_method::hmacsha1, "secret", worked_content),
            "fafd82a3d602b37fb0fa8b7892f24a477f851a14");
  EXPECT_EQ(hmac_hex(sign_method::hmacsha256, "secret", worked_content),
            "6074a46a91b1ebb2cc4ea42790ad0e80202c9843859fc292e57c4eb19fad9e57");
  EXPECT_EQ(hmac(sign_method::hmacmd5, "k", "d").size, 16U);
  EXPECT_EQ(hmac(sign_method::hmacsha1, "k", "d").size, 20U);
  EXPECT_EQ(hmac(sign_method::hmacsha256, "k", "d").size, 32U);
}

TEST(AuthSign, EmptyKeyAndData) {
  // openssl dgst -md5 -hmac '' < /dev/null is the HMAC of nothing with an empty key.
  EXPECT_EQ(hmac_hex(sign_method::hmacmd5, "", ""), "74e6f7298a9c2d168935f58c001bad88");
}

TEST(AuthSign, ContentLeavesOutAbsentFields) {
  EXPECT_EQ(device_sign_content({std::nullopt, "device", "pk", std::nullopt}),
            "deviceNamedeviceproductKeypk");
  EXPECT_EQ(device_sign(sign_method::hmacmd5, "secret", {std::nullopt, "device", "pk", {}}),
            "c07c9fa9be69010bcfaaf59322258cc2");
  // An empty client id that is present still contributes its key.
  EXPECT_EQ(device_sign(sign_method::hmacmd5, "secret", {"", "device", "pk", {}}),
            "6d648d13ae956d71e0fdee45c2203240");
}

TEST(AuthSign, VerifyIsCaseInsensitiveAndLengthExact) {
  const std::string good = device_sign(sign_method::hmacsha256, "secret", worked_fields());
  EXPECT_TRUE(verify_hex_hmac(sign_method::hmacsha256, "secret", worked_content, good));
  EXPECT_TRUE(verify_hex_hmac(sign_method::hmacsha256, "secret", worked_content, upper(good)));
  std::string mixed = good;
  mixed[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(mixed[0])));
  EXPECT_TRUE(verify_hex_hmac(sign_method::hmacsha256, "secret", worked_content, mixed));
  EXPECT_FALSE(verify_hex_hmac(sign_method::hmacsha256, "secret", worked_content,
                               good.substr(0, good.size() - 1)));
  EXPECT_FALSE(verify_hex_hmac(sign_method::hmacsha256, "secret", worked_content, good + "0"));
  EXPECT_FALSE(verify_hex_hmac(sign_method::hmacsha256, "secret", worked_content, ""));
  EXPECT_FALSE(verify_hex_hmac(sign_method::hmacsha256, "Secret", worked_content, good));
  EXPECT_FALSE(verify_hex_hmac(sign_method::hmacsha1, "secret", worked_content, good));
  std::string flipped = good;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  EXPECT_FALSE(verify_hex_hmac(sign_method::hmacsha256, "secret", worked_content, flipped));
  EXPECT_FALSE(
      verify_hex_hmac(sign_method::hmacsha256, "secret", worked_content, std::string(10000, 'a')));
}

TEST(AuthSign, HexEqual) {
  EXPECT_TRUE(hex_equal("abcdef0123", "ABCDEF0123"));
  EXPECT_TRUE(hex_equal("", ""));
  EXPECT_FALSE(hex_equal("abc", "abd"));
  EXPECT_FALSE(hex_equal("abc", "ab"));
  EXPECT_FALSE(hex_equal("ab", "abc"));
  // Lower-casing applies to letters only: '@' (0x40) is not '`' (0x60).
  EXPECT_FALSE(hex_equal("@", "`"));
  EXPECT_FALSE(hex_equal(std::string(200, 'a'), std::string(200, 'a')));
}

TEST(AuthSign, SecureEqual) {
  EXPECT_TRUE(secure_equal("token", "token"));
  EXPECT_FALSE(secure_equal("token", "TOKEN"));
  EXPECT_FALSE(secure_equal("token", "token1"));
  EXPECT_TRUE(secure_equal("", ""));
}

TEST(AuthSign, ParseSignMethod) {
  EXPECT_EQ(parse_sign_method("hmacmd5"), sign_method::hmacmd5);
  EXPECT_EQ(parse_sign_method("HmacSHA1"), sign_method::hmacsha1);
  EXPECT_EQ(parse_sign_method("HMACSHA256"), sign_method::hmacsha256);
  EXPECT_FALSE(parse_sign_method("hmacsha512"));
  EXPECT_FALSE(parse_sign_method("sha256"));
  EXPECT_FALSE(parse_sign_method(""));
  EXPECT_EQ(to_string(sign_method::hmacsha256), "hmacsha256");
}

TEST(AuthSign, RegistrationSign) {
  EXPECT_EQ(register_sign_content("device", "pk", "123"), "deviceNamedeviceproductKeypkrandom123");
  EXPECT_EQ(register_sign(sign_method::hmacsha256, "psecret", "device", "pk", "123"),
            "58acc7179fade34d91dcbc151622b2e6d29912cc5b73d4f736a05de8129bbaaa");
  EXPECT_EQ(http_register_sign(sign_method::hmacmd5, "psecret", "device", "pk", "123"),
            "941018f14a2c6e223823d80c198802f7");
}

TEST(AuthSign, AppSign) {
  EXPECT_EQ(app_sign_content("ak1", "backend1", "1700000000000"),
            "appKeyak1clientIdbackend1timestamp1700000000000");
  EXPECT_EQ(app_sign("asecret", "ak1", "backend1", "1700000000000"),
            "11f0bb118835cfa56b97acc8704c298da91c21bfea4d157639f5b3588824e523");
  EXPECT_EQ(app_sign_content("ak1", "backend1", std::nullopt), "appKeyak1clientIdbackend1");
}

} // namespace
} // namespace thingport::auth
