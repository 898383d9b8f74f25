// The pure parts of the client commands: the API URL and `thingport sign`.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "app/cli_http.hpp"
#include "app/cli_sign.hpp"
#include "auth/sign.hpp"

namespace thingport::app {
namespace {

TEST(CliApiUrl, Parses) {
  auto ep = parse_api_url("http://127.0.0.1:8080");
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->host, "127.0.0.1");
  EXPECT_EQ(ep->port, "8080");
  EXPECT_EQ(ep->base, "");
  ep = parse_api_url("http://example.com/thingport/");
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->host, "example.com");
  EXPECT_EQ(ep->port, "80");
  EXPECT_EQ(ep->base, "/thingport");
  ep = parse_api_url("http://[::1]:9000");
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->host, "::1");
  EXPECT_EQ(ep->port, "9000");
  for (const char* bad : {"https://x", "127.0.0.1:8080", "http://", "http://:80", "http://h:99999",
                          "http://h:x", "http://u@h", "http://[::1"})
    EXPECT_FALSE(parse_api_url(bad)) << bad;
}

TEST(CliSign, ShellQuote) {
  EXPECT_EQ(shell_quote("a&b|c"), "'a&b|c'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
}

TEST(CliSign, PrintsCredentialsAndACommand) {
  sign_args a;
  a.product_key = "a1B2c3D4e5F";
  a.device_name = "dev-1";
  a.device_secret = "secret";
  a.client_id = "c1";
  a.timestamp = "1700000000000";
  const auto text = sign_output(a, false);
  const auto pw = auth::device_sign(auth::sign_method::hmacsha256, "secret",
                                    {"c1", "dev-1", "a1B2c3D4e5F", "1700000000000"});
  EXPECT_NE(text.find("clientId  c1|securemode=3,signmethod=hmacsha256,timestamp=1700000000000|\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("username  dev-1&a1B2c3D4e5F\n"), std::string::npos);
  EXPECT_NE(text.find("password  " + pw + "\n"), std::string::npos);
  EXPECT_NE(text.find("mosquitto_pub -h '127.0.0.1' -p 1883 -i 'c1|securemode=3,"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("-t '/a1B2c3D4e5F/dev-1/user/update' -m 'hello' -V mqttv311"),
            std::string::npos);

  const auto js = boost::json::parse(sign_output(a, true));
  EXPECT_EQ(js.at("username").as_string(), "dev-1&a1B2c3D4e5F");
  EXPECT_EQ(js.at("password").as_string(), pw);
  EXPECT_TRUE(js.at("mosquittoPub").is_string());
}

TEST(CliSign, RefusesBadInput) {
  sign_args a;
  a.product_key = "pk";
  a.device_name = "dev-1";
  a.device_secret = "s";
  EXPECT_NO_THROW(sign_output(a, false));
  auto b = a;
  b.device_name = "a/b+";
  EXPECT_THROW(sign_output(b, false), std::invalid_argument);
  b = a;
  b.method = "sha1";
  EXPECT_THROW(sign_output(b, false), std::invalid_argument);
  b = a;
  b.device_secret = "";
  EXPECT_THROW(sign_output(b, false), std::invalid_argument);
  b = a;
  b.timestamp = "12a";
  EXPECT_THROW(sign_output(b, false), std::invalid_argument);
}

} // namespace
} // namespace thingport::app
