#include "thingport/device/url.hpp"

#include <gtest/gtest.h>

#include "thingport/device/error.hpp"

namespace thingport::device {
namespace {

TEST(Url, SchemesAndDefaultPorts) {
  auto u = parse_url("mqtt://example.com");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->kind, transport_kind::tcp);
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 1883);
  u = parse_url("mqtts://h");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->kind, transport_kind::tls);
  EXPECT_EQ(u->port, 8883);
  EXPECT_TRUE(u->secure());
  u = parse_url("ws://h");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->path, "/mqtt");
  u = parse_url("wss://h:8443/");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->kind, transport_kind::wss);
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->path, "/");
  EXPECT_TRUE(u->websocket());
}

TEST(Url, PortsPathsAndV6) {
  auto u = parse_url("mqtt://127.0.0.1:41883");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 41883);
  u = parse_url("ws://[::1]:9000/a/b");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 9000);
  EXPECT_EQ(u->path, "/a/b");
  u = parse_url("mqtt://[::1]");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->port, 1883);
}

TEST(Url, Refused) {
  for (const char* bad :
       {"", "http://h", "mqtt://", "mqtt://:1883", "mqtt://h:0", "mqtt://h:65536", "mqtt://h:12x",
        "mqtt://h:", "mqtt://h/path", "ws://[::1", "ws://[::1]x", "mqtts://h:-1"}) {
    EXPECT_FALSE(parse_url(bad)) << bad;
  }
}

TEST(Errors, ConnackCodesNameThemselves) {
  EXPECT_EQ(make_connack_error(4).message(), "CONNACK 4: bad user name or password");
  EXPECT_EQ(make_connack_error(5).message(), "CONNACK 5: not authorized");
  EXPECT_EQ(make_connack_error(5).value(), 5);
  EXPECT_NE(make_connack_error(5), make_error_code(errc::connect_timeout));
  EXPECT_EQ(std::error_code(errc::buffer_full).message(), "offline publish buffer full");
}

} // namespace
} // namespace thingport::device
