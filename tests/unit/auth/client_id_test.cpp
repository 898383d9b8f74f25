#include "auth/client_id.hpp"

#include <gtest/gtest.h>

#include <string>

#include "auth/error.hpp"

namespace thingport::auth {
namespace {

client_id parse_ok(std::string_view text) {
  const client_id_result r = parse_client_id(text);
  EXPECT_FALSE(r.ec) << text << ": " << r.ec.message();
  return r.value;
}

errc parse_err(std::string_view text) {
  const client_id_result r = parse_client_id(text);
  EXPECT_TRUE(r.ec) << text;
  EXPECT_EQ(&r.ec.category(), &error_category());
  return static_cast<errc>(r.ec.value());
}

TEST(AuthClientId, WorkedExample) {
  const client_id c = parse_ok("12345|securemode=3,signmethod=hmacsha1,timestamp=789|");
  EXPECT_TRUE(c.aliyun);
  EXPECT_EQ(c.id, "12345");
  EXPECT_EQ(c.securemode, 3);
  EXPECT_EQ(c.signmethod, sign_method::hmacsha1);
  EXPECT_EQ(c.timestamp, "789");
  EXPECT_EQ(c.auth, auth_type::device);
  EXPECT_FALSE(c.ss);
  EXPECT_EQ(c.ext, 0U);
}

TEST(AuthClientId, CSdk3Style) {
  const client_id c = parse_ok("pk.dn|securemode=3,signmethod=hmacsha1,timestamp=789|");
  EXPECT_EQ(c.id, "pk.dn");
  EXPECT_EQ(c.signmethod, sign_method::hmacsha1);
}

TEST(AuthClientId, LinkSdk4StyleWithTrailingComma) {
  const client_id c =
      parse_ok("pk.dn|securemode=3,signmethod=hmacsha256,_ss=1,lan=C,_v=sdk-c-4.x,ext=3,|");
  EXPECT_EQ(c.id, "pk.dn");
  EXPECT_EQ(c.securemode, 3);
  EXPECT_EQ(c.signmethod, sign_method::hmacsha256);
  EXPECT_TRUE(c.ss);
  EXPECT_EQ(c.lan, "C");
  EXPECT_EQ(c.sdk_version, "sdk-c-4.x");
  EXPECT_EQ(c.ext, 3U);
  EXPECT_TRUE(c.ext & ext_rrpc);
  EXPECT_FALSE(c.timestamp);

  const client_id d =
      parse_ok("a1b2c3.dev|timestamp=2524608000000,_ss=1,_v=sdk-c-4.1.0,securemode=2,"
               "signmethod=hmacsha256,ext=3,|");
  EXPECT_EQ(d.timestamp, "2524608000000");
  EXPECT_EQ(d.securemode, 2);
}

TEST(AuthClientId, EmptyIdAndEmptyBlock) {
  const client_id c = parse_ok("|securemode=3,signmethod=hmacmd5|");
  EXPECT_TRUE(c.aliyun);
  EXPECT_EQ(c.id, "");
  const client_id d = parse_ok("abc||");
  EXPECT_TRUE(d.aliyun);
  EXPECT_FALSE(d.signmethod);
  EXPECT_FALSE(d.securemode);
  EXPECT_TRUE(parse_ok("||").aliyun);
}

TEST(AuthClientId, EmptyItemsAnyOrderUnknownKeysAnyCase) {
  const client_id c =
      parse_ok("x|,,timestamp=1,,SignMethod=HMACSHA256,foo=bar,instanceId=iot-1,gw=1,pid=p,mid=m,"
               "securemode=-2,authType=REGNWL,random=abc,new_key=,|");
  EXPECT_EQ(c.signmethod, sign_method::hmacsha256);
  EXPECT_EQ(c.timestamp, "1");
  EXPECT_EQ(c.instance_id, "iot-1");
  EXPECT_TRUE(c.gateway);
  EXPECT_EQ(c.pid, "p");
  EXPECT_EQ(c.mid, "m");
  EXPECT_EQ(c.securemode, -2);
  EXPECT_EQ(c.auth, auth_type::register_nwl);
  EXPECT_EQ(c.random, "abc");
}

TEST(AuthClientId, AuthTypes) {
  EXPECT_EQ(parse_ok("x|authType=register,random=1|").auth, auth_type::register_device);
  EXPECT_EQ(parse_ok("x|authType=regnwl|").auth, auth_type::register_nwl);
  EXPECT_EQ(parse_ok("x|authType=connwl|").auth, auth_type::connect_nwl);
  EXPECT_EQ(parse_ok("x|authType=app,signmethod=hmacsha256,timestamp=1|").auth, auth_type::app);
  EXPECT_EQ(parse_err("x|authType=id2|"), errc::bad_auth_type);
  EXPECT_EQ(to_string(auth_type::register_device), "register");
}

TEST(AuthClientId, LastDuplicateWins) {
  EXPECT_EQ(parse_ok("x|signmethod=hmacmd5,signmethod=hmacsha1|").signmethod,
            sign_method::hmacsha1);
  EXPECT_FALSE(parse_ok("x|_ss=1,_ss=0|").ss);
}

TEST(AuthClientId, GenericClients) {
  const client_id c = parse_ok("mosq-abcdef");
  EXPECT_FALSE(c.aliyun);
  EXPECT_EQ(c.id, "mosq-abcdef");
  const client_id e = parse_ok("");
  EXPECT_FALSE(e.aliyun);
  EXPECT_EQ(e.id, "");
  // A generic id may be long (up to the total limit) and contain anything but '|'.
  EXPECT_FALSE(parse_ok(std::string(200, 'g')).aliyun);
  EXPECT_FALSE(parse_ok("a=b,c=d").aliyun);
}

TEST(AuthClientId, MalformedBlocks) {
  EXPECT_EQ(parse_err("id|securemode=3,signmethod=hmacsha1"), errc::unterminated_block);
  EXPECT_EQ(parse_err("id|"), errc::unterminated_block);
  EXPECT_EQ(parse_err("id|securemode=3|trailing"), errc::unterminated_block);
  EXPECT_EQ(parse_err("id|securemode=3||"), errc::unterminated_block);
  EXPECT_EQ(parse_err("id|securemode|"), errc::malformed_item);
  EXPECT_EQ(parse_err("id|=3|"), errc::malformed_item);
  EXPECT_EQ(parse_err("id|securemode=abc|"), errc::bad_securemode);
  EXPECT_EQ(parse_err("id|securemode=|"), errc::bad_securemode);
  EXPECT_EQ(parse_err("id|securemode=3x|"), errc::bad_securemode);
  EXPECT_EQ(parse_err("id|securemode=99999999999|"), errc::bad_securemode);
  EXPECT_EQ(parse_err("id|ext=-1|"), errc::bad_ext);
  EXPECT_EQ(parse_err("id|ext=x|"), errc::bad_ext);
  EXPECT_EQ(parse_err("id|ext=4294967296|"), errc::bad_ext);
  EXPECT_EQ(parse_err("id|signmethod=hmacsha512|"), errc::bad_signmethod);
  EXPECT_EQ(parse_err("id|signmethod=|"), errc::bad_signmethod);
}

TEST(AuthClientId, Lengths) {
  EXPECT_TRUE(parse_ok(std::string(64, 'i') + "|securemode=3|").aliyun);
  EXPECT_EQ(parse_err(std::string(65, 'i') + "|securemode=3|"), errc::id_too_long);
  EXPECT_EQ(parse_err(std::string(10000, 'x')), errc::client_id_too_long);
  EXPECT_EQ(parse_err("id|securemode=3," + std::string(10000, ',') + "|"),
            errc::client_id_too_long);
  EXPECT_EQ(parse_err("id|_v=" + std::string(600, 'v') + "|"), errc::client_id_too_long);
  // Limits are configurable.
  const client_id_result r = parse_client_id(std::string(1000, 'x'), {.max_total = 2000});
  EXPECT_FALSE(r.ec);
}

TEST(AuthClientId, EveryErrorIsConnack2) {
  for (const char* text : {"id|securemode=3", "id|k|", "id|securemode=x|", "id|ext=x|",
                           "id|signmethod=md4|", "id|authType=x|"}) {
    const client_id_result r = parse_client_id(text);
    ASSERT_TRUE(r.ec) << text;
    EXPECT_EQ(connack_code_for(static_cast<errc>(r.ec.value())),
              mqtt::connack_code::identifier_rejected)
        << text;
  }
}

TEST(AuthClientId, BinaryGarbageDoesNotCrash) {
  std::string s;
  for (int i = 0; i < 512; ++i) {
    s.push_back(static_cast<char>((i * 37) & 0xff));
    (void)parse_client_id(s);
  }
}

} // namespace
} // namespace thingport::auth
