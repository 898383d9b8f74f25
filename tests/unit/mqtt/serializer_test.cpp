#include "mqtt/serializer.hpp"

#include <gtest/gtest.h>

#include <string>

#include "test_util.hpp"

namespace thingport::mqtt {
namespace {

using test::as_bytes;
using test::encoded;
using test::to_hex;

std::string hex_of(const packet& p) {
  return to_hex(as_bytes(encoded(p)));
}

TEST(MqttSerializer, FixedSizePackets) {
  EXPECT_EQ(hex_of(pingreq_packet{}), "c0 00");
  EXPECT_EQ(hex_of(pingresp_packet{}), "d0 00");
  EXPECT_EQ(hex_of(disconnect_packet{}), "e0 00");
  EXPECT_EQ(hex_of(puback_packet{0x1234}), "40 02 12 34");
  EXPECT_EQ(hex_of(pubrec_packet{1}), "50 02 00 01");
  EXPECT_EQ(hex_of(pubrel_packet{0xffff}), "62 02 ff ff"); // [MQTT-3.6.1-1] flags 0010
  EXPECT_EQ(hex_of(pubcomp_packet{2}), "70 02 00 02");
  EXPECT_EQ(hex_of(unsuback_packet{3}), "b0 02 00 03");
  EXPECT_EQ(hex_of(connack_packet{true, connack_code::accepted}), "20 02 01 00");
  EXPECT_EQ(hex_of(connack_packet{false, connack_code::not_authorized}), "20 02 00 05");
}

TEST(MqttSerializer, Connect) {
  connect_packet c;
  c.client_id = "c";
  c.keepalive = 60;
  EXPECT_EQ(hex_of(c), "10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 63");

  c.protocol_level = protocol_level_31;
  EXPECT_EQ(hex_of(c), "10 0f 00 06 4d 51 49 73 64 70 03 02 00 3c 00 01 63");

  c.protocol_level = protocol_level_311;
  c.clean_session = false;
  c.will = will_message{"w", "x", 1, true};
  c.username = "u";
  c.password = "p";
  EXPECT_EQ(hex_of(c), "10 19 00 04 4d 51 54 54 04 ec 00 3c 00 01 63 00 01 77 00 01 78 00 01 "
                       "75 00 01 70");
}

TEST(MqttSerializer, Publish) {
  EXPECT_EQ(hex_of(publish_packet{"t", "", 0, false, false, 0}), "30 03 00 01 74");
  EXPECT_EQ(hex_of(publish_packet{"a/b", "hi", 1, true, false, 10}),
            "33 09 00 03 61 2f 62 00 0a 68 69");
  EXPECT_EQ(hex_of(publish_packet{"a", "z", 2, false, true, 0x0102}), "3c 06 00 01 61 01 02 7a");
}

TEST(MqttSerializer, EncodePublishMatchesEncode) {
  std::string fast;
  encode_publish(fast, "a/b", "hi", 1, true, false, 10);
  EXPECT_EQ(fast, encoded(publish_packet{"a/b", "hi", 1, true, false, 10}));
}

TEST(MqttSerializer, SubscribeFamily) {
  subscribe_packet s{1, {{"a/#", 1}, {"b", 0}}};
  EXPECT_EQ(hex_of(s), "82 0c 00 01 00 03 61 2f 23 01 00 01 62 00");
  suback_packet sa{1, {0, 1, 2, suback_failure}};
  EXPECT_EQ(hex_of(sa), "90 06 00 01 00 01 02 80");
  unsubscribe_packet u{2, {"a", "bc"}};
  EXPECT_EQ(hex_of(u), "a2 09 00 02 00 01 61 00 02 62 63");
}

TEST(MqttSerializer, AppendsToExistingOutput) {
  std::string out = "xy";
  encode(pingreq_packet{}, out);
  encode_publish(out, "t", "p", 0, false, false, 0);
  EXPECT_EQ(to_hex(as_bytes(out)), "78 79 c0 00 30 04 00 01 74 70");
}

TEST(MqttSerializer, RemainingLengthBoundaries) {
  struct row {
    std::size_t n;
    std::size_t size;
    const char* hex;
  };
  const row rows[] = {{0, 1, "00"},
                      {127, 1, "7f"},
                      {128, 2, "80 01"},
                      {321, 2, "c1 02"},
                      {16383, 2, "ff 7f"},
                      {16384, 3, "80 80 01"},
                      {2097151, 3, "ff ff 7f"},
                      {2097152, 4, "80 80 80 01"}};
  for (const auto& r : rows) {
    EXPECT_EQ(remaining_length_size(r.n), r.size) << r.n;
    // A QoS 0 PUBLISH to "t" has remaining length 3 + payload.
    if (r.n < 3)
      continue;
    std::string out;
    encode_publish(out, "t", std::string(r.n - 3, 'p'), 0, false, false, 0);
    EXPECT_EQ(to_hex(as_bytes(out.substr(1, r.size))), r.hex) << r.n;
    EXPECT_EQ(out.size(), 1 + r.size + r.n);
  }
  EXPECT_EQ(remaining_length_size(268435455), 4u);
}

TEST(MqttSerializer, PublishSizeIsExact) {
  for (const std::size_t topic : {1u, 7u, 100u, 65535u})
    for (const std::size_t payload :
         {0u, 1u, 120u, 124u, 125u, 126u, 127u, 128u, 16000u, 16380u, 16384u, 70000u, 2097152u})
      for (const std::uint8_t qos : {0, 1, 2}) {
        std::string out;
        encode_publish(out, std::string(topic, 't'), std::string(payload, 'p'), qos, false, false,
                       1);
        EXPECT_EQ(publish_size(topic, payload, qos), out.size())
            << topic << " " << payload << " " << int{qos};
      }
}

TEST(MqttSerializer, PacketTypeNames) {
  EXPECT_EQ(to_string(packet_type::connect), "CONNECT");
  EXPECT_EQ(to_string(packet_type::publish), "PUBLISH");
  EXPECT_EQ(to_string(packet_type::unsuback), "UNSUBACK");
  EXPECT_EQ(to_string(packet_type::disconnect), "DISCONNECT");
  EXPECT_EQ(to_string(static_cast<packet_type>(0)), "UNKNOWN");
  EXPECT_EQ(to_string(static_cast<packet_type>(15)), "UNKNOWN");
  for (int t = 1; t <= 14; ++t)
    EXPECT_NE(to_string(static_cast<packet_type>(t)), "UNKNOWN") << t;
}

} // namespace
} // namespace thingport::mqtt
