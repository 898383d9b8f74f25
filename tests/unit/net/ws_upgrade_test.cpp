// Accepting a WebSocket upgrade: subprotocol negotiation and the Origin check.
#include <gtest/gtest.h>

#include "net/ws_upgrade.hpp"

namespace thingport::net {
namespace {

TEST(Subprotocol, EchoesTheFirstOneWeSpeak) {
  EXPECT_EQ(pick_subprotocol("mqtt"), "mqtt");
  EXPECT_EQ(pick_subprotocol("mqttv3.1"), "mqttv3.1");
  EXPECT_EQ(pick_subprotocol("mqtt, mqttv3.1"), "mqtt");    // mosquitto's clients
  EXPECT_EQ(pick_subprotocol("mqttv3.1,mqtt"), "mqttv3.1"); // the client's order wins
  EXPECT_EQ(pick_subprotocol("chat, superchat,  mqtt "), "mqtt");
  EXPECT_EQ(pick_subprotocol("\tmqtt\t"), "mqtt");
  EXPECT_EQ(pick_subprotocol(",,mqtt,"), "mqtt"); // empty list items
}

TEST(Subprotocol, NoneOfOursIsRefused) {
  EXPECT_FALSE(pick_subprotocol(""));
  EXPECT_FALSE(pick_subprotocol("chat"));
  EXPECT_FALSE(pick_subprotocol("MQTT")); // tokens are case-sensitive
  EXPECT_FALSE(pick_subprotocol("mqttv3.11"));
  EXPECT_FALSE(pick_subprotocol("mqtt5"));
  EXPECT_FALSE(pick_subprotocol("mq tt"));
  EXPECT_FALSE(pick_subprotocol(","));
}

TEST(Origin, EmptyListAllowsAll) {
  EXPECT_TRUE(origin_allowed("https://anything.example", {}));
  EXPECT_TRUE(origin_allowed("null", {}));
}

TEST(Origin, NoOriginIsNotABrowser) {
  EXPECT_TRUE(origin_allowed("", {"https://app.example"}));
}

TEST(Origin, ListedOnly) {
  const std::vector<std::string> allowed{"https://app.example", "http://localhost:8080"};
  EXPECT_TRUE(origin_allowed("https://app.example", allowed));
  EXPECT_TRUE(origin_allowed("HTTPS://APP.EXAMPLE", allowed));
  EXPECT_TRUE(origin_allowed("http://localhost:8080", allowed));
  EXPECT_FALSE(origin_allowed("http://app.example", allowed));      // scheme differs
  EXPECT_FALSE(origin_allowed("https://app.example:444", allowed)); // port differs
  EXPECT_FALSE(origin_allowed("https://evil.example", allowed));
  EXPECT_FALSE(origin_allowed("https://app.example.evil.example", allowed));
  EXPECT_FALSE(origin_allowed("null", allowed));
}

} // namespace
} // namespace thingport::net
