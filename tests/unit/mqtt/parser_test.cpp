#include "mqtt/parser.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace thingport::mqtt {
namespace {

using test::as_bytes;
using test::describe;
using test::describe_hex;
using test::encoded;
using test::from_hex;

// One valid packet of every shape worth distinguishing.
std::vector<packet> sample_packets() {
  static const std::string big(20000, 'x'); // 3-byte remaining length
  static const std::string four_k(4096, '\xfe');
  connect_packet minimal;
  minimal.client_id = "c";
  connect_packet empty_id;
  empty_id.client_id = "";
  empty_id.clean_session = true;
  connect_packet full;
  full.clean_session = false;
  full.keepalive = 0xffff;
  full.client_id = "a-client-id-longer-than-23-bytes";
  full.will = will_message{"dev/1/status", std::string("off\0\xff", 5), 2, true};
  full.username = "user";
  full.password = std::string("\0\x01\xff", 3);
  connect_packet v31;
  v31.protocol_level = protocol_level_31;
  v31.client_id = "old";
  v31.keepalive = 10;
  connect_packet user_only;
  user_only.client_id = "u";
  user_only.username = "";
  connect_packet will_qos0;
  will_qos0.client_id = "w";
  will_qos0.will = will_message{"t", "", 0, false};

  return {
      minimal,
      empty_id,
      full,
      v31,
      user_only,
      will_qos0,
      connack_packet{false, connack_code::accepted},
      connack_packet{true, connack_code::accepted},
      connack_packet{false, connack_code::unacceptable_protocol_version},
      connack_packet{false, connack_code::not_authorized},
      publish_packet{"t", "", 0, false, false, 0},
      publish_packet{"a/b/c", "hello", 0, true, false, 0},
      publish_packet{"a/b", "x", 1, false, false, 1},
      publish_packet{"a/b", "x", 1, false, true, 0xffff},
      publish_packet{"/", four_k, 2, true, true, 77},
      publish_packet{"$SYS/big", big, 1, false, false, 9},
      publish_packet{"caf\xc3\xa9/\xf0\x9f\x98\x80", "\x00\x01", 0, false, false, 0},
      puback_packet{1},
      pubrec_packet{0x1234},
      pubrel_packet{0xffff},
      pubcomp_packet{42},
      subscribe_packet{1, {{"a/#", 1}}},
      subscribe_packet{7, {{"#", 0}, {"+/+", 1}, {"sport/tennis/+", 2}, {"/", 0}}},
      suback_packet{1, {0}},
      suback_packet{7, {0, 1, 2, suback_failure}},
      unsubscribe_packet{3, {"a/#"}},
      unsubscribe_packet{4, {"#", "+", "a/b"}},
      unsuback_packet{3},
      pingreq_packet{},
      pingresp_packet{},
      disconnect_packet{},
  };
}

TEST(MqttParser, RoundTripEveryType) {
  bool seen[15] = {};
  for (const packet& p : sample_packets()) {
    const std::string wire = encoded(p);
    const parse_result r = parse(as_bytes(wire));
    ASSERT_EQ(r.state, parse_result::status::packet)
        << describe(r) << " for " << ::testing::PrintToString(p);
    EXPECT_EQ(r.consumed, wire.size());
    EXPECT_EQ(r.pkt, p);
    // And the decoded packet encodes to the same bytes.
    EXPECT_EQ(encoded(r.pkt), wire);
    seen[static_cast<int>(type_of(p))] = true;
  }
  for (int t = 1; t <= 14; ++t)
    EXPECT_TRUE(seen[t]) << to_string(static_cast<packet_type>(t)) << " not covered";
}

TEST(MqttParser, PublishViewsPointIntoInput) {
  const std::string wire = encoded(publish_packet{"a/b", "payload", 1, false, false, 5});
  const parse_result r = parse(as_bytes(wire));
  ASSERT_EQ(r.state, parse_result::status::packet);
  const auto& p = std::get<publish_packet>(r.pkt);
  EXPECT_EQ(p.topic.data(), wire.data() + 4);
  EXPECT_EQ(p.payload.data(), wire.data() + 9);
  EXPECT_EQ(p.payload.data() + p.payload.size(), wire.data() + wire.size());
}

TEST(MqttParser, OneByteAtATime) {
  for (const packet& p : sample_packets()) {
    const std::string wire = encoded(p);
    const auto bytes = as_bytes(wire);
    fixed_header h;
    std::error_code ec;
    ASSERT_EQ(peek_fixed_header(bytes, h, ec), parse_result::status::packet);
    ASSERT_EQ(h.header_length + h.remaining_length, wire.size());
    for (std::size_t n = 0; n < wire.size(); ++n) {
      const parse_result r = parse(bytes.first(n));
      ASSERT_EQ(r.state, parse_result::status::need_more)
          << describe(r) << " at " << n << "/" << wire.size() << " of "
          << ::testing::PrintToString(p);
      EXPECT_EQ(r.needed, n < h.header_length ? 0 : wire.size()) << n;
      EXPECT_EQ(r.consumed, 0u);
    }
    const parse_result r = parse(bytes);
    ASSERT_EQ(r.state, parse_result::status::packet);
    EXPECT_EQ(r.pkt, p);
  }
}

TEST(MqttParser, BatchedPackets) {
  const auto samples = sample_packets();
  std::string wire;
  for (const packet& p : samples)
    encode(p, wire);
  const std::string partial = encoded(publish_packet{"tail", "unfinished", 1, false, false, 3});
  wire += partial.substr(0, partial.size() - 1);

  std::span<const std::uint8_t> rest = as_bytes(wire);
  std::size_t i = 0;
  for (;;) {
    const parse_result r = parse(rest);
    if (r.state != parse_result::status::packet) {
      EXPECT_EQ(describe(r), "need_more " + std::to_string(partial.size()));
      break;
    }
    ASSERT_LT(i, samples.size());
    EXPECT_EQ(r.pkt, samples[i]) << i;
    rest = rest.subspan(r.consumed);
    ++i;
  }
  EXPECT_EQ(i, samples.size());
  EXPECT_EQ(rest.size(), partial.size() - 1);
}

TEST(MqttParser, EmptyInputNeedsMore) {
  const parse_result r = parse({});
  EXPECT_EQ(describe(r), "need_more 0");
}

TEST(MqttParser, PeekFixedHeader) {
  fixed_header h;
  std::error_code ec;
  const auto in = from_hex("3b ff 7f");
  EXPECT_EQ(peek_fixed_header(std::span(in).first(2), h, ec), parse_result::status::need_more);
  ASSERT_EQ(peek_fixed_header(in, h, ec), parse_result::status::packet);
  EXPECT_FALSE(ec);
  EXPECT_EQ(h.type, packet_type::publish);
  EXPECT_EQ(h.flags, 0x0b);
  EXPECT_EQ(h.remaining_length, 16383u);
  EXPECT_EQ(h.header_length, 3u);
  EXPECT_EQ(peek_fixed_header(from_hex("00"), h, ec), parse_result::status::error);
  EXPECT_EQ(ec, errc::invalid_packet_type);
}

// ---- framing ----------------------------------------------------------------------------

TEST(MqttParser, RemainingLengthAtMostFourBytes) {
  parser_options unlimited;
  unlimited.max_remaining_length = 268435455;
  EXPECT_EQ(describe_hex("30 ff ff ff", unlimited), "need_more 0");
  EXPECT_EQ(describe_hex("30 ff ff ff 7f", unlimited), "need_more 268435460");
  // A fifth length byte: the fourth still has its continuation bit set.
  EXPECT_EQ(describe_hex("30 ff ff ff ff", unlimited), "error malformed_remaining_length");
  EXPECT_EQ(describe_hex("30 80 80 80 80 01", unlimited), "error malformed_remaining_length");
  EXPECT_EQ(describe_hex("c0 80 80 80 80 00"), "error malformed_remaining_length");
  // Non-minimal encodings are not forbidden by 3.1.1.
  EXPECT_EQ(describe_hex("c0 80 00"), "packet PINGREQ");
}

TEST(MqttParser, HugeConnectRefusedFromTheHeader) {
  // A CONNECT claiming 256 MB: refused with only its 5 header bytes present.
  const auto in = from_hex("10 ff ff ff 7f");
  const parse_result r = parse(in);
  EXPECT_EQ(describe(r), "error packet_too_large");
  EXPECT_EQ(r.needed, 0u);
  fixed_header h;
  std::error_code ec;
  EXPECT_EQ(peek_fixed_header(in, h, ec), parse_result::status::error);
  EXPECT_EQ(ec, errc::packet_too_large);
}

TEST(MqttParser, PacketTooLargeAtTheConfiguredLimit) {
  parser_options o;
  o.max_remaining_length = 10;
  EXPECT_EQ(describe_hex("30 0a", o), "need_more 12");
  EXPECT_EQ(describe_hex("30 0b", o), "error packet_too_large");
  EXPECT_EQ(describe_hex("82 0b 00 01", o), "error packet_too_large");
}

TEST(MqttParser, PayloadTooLarge) {
  parser_options o;
  o.max_payload = 4;
  EXPECT_EQ(describe_hex("30 07 00 01 74 70 70 70 70", o), "packet PUBLISH");
  EXPECT_EQ(describe_hex("30 08 00 01 74 70 70 70 70 70", o), "error payload_too_large");
  // Known as soon as the topic length has arrived.
  EXPECT_EQ(describe_hex("30 08 00", o), "need_more 10");
  EXPECT_EQ(describe_hex("30 08 00 01", o), "error payload_too_large");
  // With QoS 1 the packet id is not payload.
  EXPECT_EQ(describe_hex("32 09 00 01 74 00 01 70 70 70 70", o), "packet PUBLISH");
  EXPECT_EQ(describe_hex("32 0a 00 01 74 00 01 70 70 70 70 70", o), "error payload_too_large");
}

TEST(MqttParser, InvalidPacketTypes) {
  EXPECT_EQ(describe_hex("00"), "error invalid_packet_type");
  EXPECT_EQ(describe_hex("00 00"), "error invalid_packet_type");
  EXPECT_EQ(describe_hex("f0 00"), "error invalid_packet_type");
}

TEST(MqttParser, ReservedFixedHeaderFlags) {
  // [MQTT-2.2.2-1], [MQTT-3.6.1-1], [MQTT-3.8.1-1], [MQTT-3.10.1-1]
  EXPECT_EQ(describe_hex("62 02 00 01"), "packet PUBREL");
  EXPECT_EQ(describe_hex("60 02 00 01"), "error invalid_fixed_header_flags");
  EXPECT_EQ(describe_hex("63 02 00 01"), "error invalid_fixed_header_flags");
  EXPECT_EQ(describe_hex("80 06 00 01 00 01 61 00"), "error invalid_fixed_header_flags");
  EXPECT_EQ(describe_hex("8a 06 00 01 00 01 61 00"), "error invalid_fixed_header_flags");
  EXPECT_EQ(describe_hex("a0 05 00 01 00 01 61"), "error invalid_fixed_header_flags");
  EXPECT_EQ(describe_hex("a3 05 00 01 00 01 61"), "error invalid_fixed_header_flags");
  for (const char* first : {"11", "21", "42", "52", "72", "92", "b2", "c1", "d8", "e2"})
    EXPECT_EQ(describe_hex(std::string(first) + " 00"), "error invalid_fixed_header_flags")
        << first;
}

TEST(MqttParser, PublishFlags) {
  EXPECT_EQ(describe_hex("36 05 00 01 74 00 01"), "error invalid_qos"); // [MQTT-3.3.1-4]
  EXPECT_EQ(describe_hex("3f 05 00 01 74 00 01"), "error invalid_qos");
  // [MQTT-3.3.1-2] DUP must be 0 for QoS 0
  EXPECT_EQ(describe_hex("38 03 00 01 74"), "error invalid_fixed_header_flags");
  EXPECT_EQ(describe_hex("39 03 00 01 74"), "error invalid_fixed_header_flags");
  EXPECT_EQ(describe_hex("3a 05 00 01 74 00 01"), "packet PUBLISH");
  EXPECT_EQ(describe_hex("3d 05 00 01 74 00 01"), "packet PUBLISH");
  // Reported from the first byte alone.
  EXPECT_EQ(describe_hex("36"), "error invalid_qos");
}

TEST(MqttParser, PublishFields) {
  EXPECT_EQ(describe_hex("30 02 00 00"), "error invalid_topic_name");          // empty
  EXPECT_EQ(describe_hex("30 03 00 01 23"), "error invalid_topic_name");       // '#'
  EXPECT_EQ(describe_hex("30 05 00 03 61 2f 2b"), "error invalid_topic_name"); // 'a/+'
  EXPECT_EQ(describe_hex("30 04 00 02 c0 80"), "error invalid_utf8");
  EXPECT_EQ(describe_hex("30 03 00 01 00"), "error invalid_utf8"); // U+0000
  EXPECT_EQ(describe_hex("30 05 00 03 ed a0 80"), "error invalid_utf8");
  EXPECT_EQ(describe_hex("30 03 00 05 61"), "error malformed_packet"); // topic overruns
  EXPECT_EQ(describe_hex("30 01 00"), "error malformed_packet");
  EXPECT_EQ(describe_hex("30 00"), "error malformed_packet");
  EXPECT_EQ(describe_hex("32 03 00 01 61"), "error malformed_packet"); // no packet id
  EXPECT_EQ(describe_hex("32 04 00 01 61 00"), "error malformed_packet");
  EXPECT_EQ(describe_hex("32 05 00 01 61 00 00"), "error zero_packet_id"); // [MQTT-2.3.1-1]
  EXPECT_EQ(describe_hex("34 05 00 01 61 00 00"), "error zero_packet_id");
  // QoS 0 carries no packet id: the two bytes are payload.
  const auto in = from_hex("30 05 00 01 61 00 00");
  const parse_result r = parse(in);
  ASSERT_EQ(describe(r), "packet PUBLISH");
  EXPECT_EQ(std::get<publish_packet>(r.pkt).payload, std::string_view("\0\0", 2));
  EXPECT_EQ(std::get<publish_packet>(r.pkt).packet_id, 0);
}

TEST(MqttParser, AcksNeedNonZeroIdAndExactLength) {
  for (const char* first : {"40", "50", "62", "70", "b0"}) {
    const std::string f = first;
    EXPECT_EQ(describe_hex(f + " 02 00 00"), "error zero_packet_id") << f;
    EXPECT_EQ(describe_hex(f + " 01 00"), "error malformed_packet") << f;
    EXPECT_EQ(describe_hex(f + " 03 00 01 00"), "error malformed_packet") << f;
    EXPECT_EQ(describe_hex(f + " 00"), "error malformed_packet") << f;
  }
  // A wrong fixed length is refused from the header, before the body.
  EXPECT_EQ(describe_hex("40 7f"), "error malformed_packet");
}

TEST(MqttParser, EmptyBodiedPackets) {
  EXPECT_EQ(describe_hex("c0 00"), "packet PINGREQ");
  EXPECT_EQ(describe_hex("d0 00"), "packet PINGRESP");
  EXPECT_EQ(describe_hex("e0 00"), "packet DISCONNECT");
  EXPECT_EQ(describe_hex("c0 01 00"), "error malformed_packet");
  EXPECT_EQ(describe_hex("d0 01"), "error malformed_packet");
  EXPECT_EQ(describe_hex("e0 02 00 00"), "error malformed_packet");
}

// ---- CONNECT ------------------------------------------------------------------------------

// "MQTT" level 4, flags, keepalive 60, client id "c", then `tail`; remaining length computed.
std::string connect_hex(std::string_view name_and_level, std::string_view flags,
                        std::string_view tail = "00 01 63") {
  const std::string body =
      std::string(name_and_level) + " " + std::string(flags) + " 00 3c " + std::string(tail);
  const auto n = from_hex(body).size();
  char len[8];
  std::snprintf(len, sizeof len, "%02zx ", n);
  return "10 " + std::string(len) + body;
}

constexpr std::string_view mqtt4 = "00 04 4d 51 54 54 04";

TEST(MqttParser, ConnectProtocolNameAndLevel) {
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "02")), "packet CONNECT");
  // MQTT 3.1
  const auto v31 = from_hex(connect_hex("00 06 4d 51 49 73 64 70 03", "02"));
  const parse_result r = parse(v31);
  ASSERT_EQ(describe(r), "packet CONNECT");
  EXPECT_EQ(std::get<connect_packet>(r.pkt).protocol_level, protocol_level_31);
  EXPECT_EQ(std::get<connect_packet>(r.pkt).client_id, "c");

  // [MQTT-3.1.2-2] right name, other level: CONNACK 1
  for (const char* level : {"00", "03", "05", "ff"}) {
    const auto in = from_hex(connect_hex(std::string("00 04 4d 51 54 54 ") + level, "02"));
    const parse_result bad = parse(in);
    EXPECT_EQ(describe(bad), "error unsupported_protocol_level") << level;
    EXPECT_EQ(connack_code_for(bad.ec), connack_code::unacceptable_protocol_version);
  }
  EXPECT_EQ(describe_hex(connect_hex("00 06 4d 51 49 73 64 70 04", "02")),
            "error unsupported_protocol_level");
  // An MQTT 5 CONNECT (properties after keepalive) is refused at the level, with CONNACK 1.
  EXPECT_EQ(describe_hex("10 10 00 04 4d 51 54 54 05 02 00 3c 03 21 00 14 00 01 63"),
            "error unsupported_protocol_level");

  // [MQTT-3.1.2-1] wrong name: no CONNACK
  for (const char* name : {"00 04 4d 51 54 58 04", "00 04 6d 71 74 74 04", "00 00 04",
                           "00 06 4d 51 49 73 64 71 03", "00 03 4d 51 54 04"}) {
    const auto in = from_hex(connect_hex(name, "02"));
    const parse_result bad = parse(in);
    EXPECT_EQ(describe(bad), "error invalid_protocol_name") << name;
    EXPECT_EQ(connack_code_for(bad.ec), std::nullopt);
  }
}

TEST(MqttParser, ConnectFlags) {
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "03")),
            "error invalid_connect_flags"); // [MQTT-3.1.2-3]
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "01")), "error invalid_connect_flags");
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "0a")),
            "error invalid_connect_flags"); // [MQTT-3.1.2-13] will QoS 1, no will
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "12")),
            "error invalid_connect_flags"); // will QoS 2, no will
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "1a")),
            "error invalid_connect_flags"); // will QoS 3, no will
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "22")),
            "error invalid_connect_flags"); // [MQTT-3.1.2-15] will retain, no will
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "1e", "00 01 63 00 01 74 00 00")),
            "error invalid_qos"); // [MQTT-3.1.2-14]
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "42", "00 01 63 00 01 70")),
            "error invalid_connect_flags"); // [MQTT-3.1.2-22]
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "c2", "00 01 63 00 01 75 00 01 70")), "packet CONNECT");
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "82", "00 01 63 00 01 75")), "packet CONNECT");
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "36", "00 01 63 00 01 74 00 00")), "packet CONNECT");
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "00")), "packet CONNECT");
}

TEST(MqttParser, ConnectPayload) {
  // Empty client id: the codec accepts, the broker decides [MQTT-3.1.3-6], [MQTT-3.1.3-8].
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "02", "00 00")), "packet CONNECT");
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "00", "00 00")), "packet CONNECT");
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "02", "00 02 c0 80")), "error invalid_utf8");
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "02", "00 01 00")), "error invalid_utf8");
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "02", "00 02 63")), "error malformed_packet");
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "02", "00")), "error malformed_packet");
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "02", "")), "error malformed_packet");
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "02", "00 01 63 00")),
            "error malformed_packet"); // trailing
  // will: topic must be a valid topic name; message is binary
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "06", "00 01 63 00 01 23 00 00")),
            "error invalid_topic_name");
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "06", "00 01 63 00 00 00 00")),
            "error invalid_topic_name");
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "06", "00 01 63 00 01 ff 00 00")),
            "error invalid_utf8");
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "06", "00 01 63 00 01 74 00 02 00 ff")),
            "packet CONNECT");
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "06", "00 01 63 00 01 74")), "error malformed_packet");
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "06", "00 01 63 00 01 74 00 03 00")),
            "error malformed_packet");
  // username is UTF-8 [MQTT-3.1.3-11]; password is binary
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "82", "00 01 63 00 03 ed a0 80")),
            "error invalid_utf8");
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "c2", "00 01 63 00 00 00 03 00 c0 80")),
            "packet CONNECT");
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "82", "00 01 63")), "error malformed_packet");
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "c2", "00 01 63 00 01 75")), "error malformed_packet");
  EXPECT_EQ(describe_hex(connect_hex(mqtt4, "c2", "00 01 63 00 01 75 00 01 70 70")),
            "error malformed_packet");
  // Body stops inside the variable header.
  EXPECT_EQ(describe_hex("10 03 00 04 4d"), "error malformed_packet");
  EXPECT_EQ(describe_hex("10 06 00 04 4d 51 54 54"), "error malformed_packet");
  EXPECT_EQ(describe_hex("10 07 00 04 4d 51 54 54 04"), "error malformed_packet");
  EXPECT_EQ(describe_hex("10 09 00 04 4d 51 54 54 04 02 00"), "error malformed_packet");
}

TEST(MqttParser, LongClientIdsAreAccepted) {
  for (const std::size_t len : {23u, 24u, 1000u, 65535u}) {
    connect_packet c;
    c.client_id = std::string(len, 'i');
    const std::string wire = encoded(c);
    const parse_result r = parse(as_bytes(wire));
    ASSERT_EQ(describe(r), "packet CONNECT") << len;
    EXPECT_EQ(std::get<connect_packet>(r.pkt).client_id.size(), len);
  }
}

// ---- CONNACK ------------------------------------------------------------------------------

TEST(MqttParser, Connack) {
  EXPECT_EQ(describe_hex("20 02 00 00"), "packet CONNACK");
  EXPECT_EQ(describe_hex("20 02 01 00"), "packet CONNACK");
  EXPECT_EQ(describe_hex("20 02 00 05"), "packet CONNACK");
  EXPECT_EQ(describe_hex("20 02 02 00"), "error malformed_packet"); // reserved ack flag bits
  EXPECT_EQ(describe_hex("20 02 80 00"), "error malformed_packet");
  EXPECT_EQ(describe_hex("20 02 00 06"), "error malformed_packet"); // reserved return code
  EXPECT_EQ(describe_hex("20 02 00 ff"), "error malformed_packet");
  EXPECT_EQ(describe_hex("20 02 01 04"), "error malformed_packet"); // [MQTT-3.2.2-4]
  EXPECT_EQ(describe_hex("20 03 00 00 00"), "error malformed_packet");
  EXPECT_EQ(describe_hex("20 01 00"), "error malformed_packet");
}

// ---- SUBSCRIBE / SUBACK / UNSUBSCRIBE -----------------------------------------------------

TEST(MqttParser, Subscribe) {
  EXPECT_EQ(describe_hex("82 06 00 01 00 01 61 02"), "packet SUBSCRIBE");
  EXPECT_EQ(describe_hex("82 06 00 00 00 01 61 00"), "error zero_packet_id");
  EXPECT_EQ(describe_hex("82 02 00 01"), "error empty_subscribe"); // [MQTT-3.8.3-3]
  EXPECT_EQ(describe_hex("82 01 00"), "error malformed_packet");
  EXPECT_EQ(describe_hex("82 00"), "error malformed_packet");
  EXPECT_EQ(describe_hex("82 06 00 01 00 01 61 03"), "error invalid_qos");      // [MQTT-3-8.3-4]
  EXPECT_EQ(describe_hex("82 06 00 01 00 01 61 04"), "error malformed_packet"); // reserved bits
  EXPECT_EQ(describe_hex("82 06 00 01 00 01 61 80"), "error malformed_packet");
  EXPECT_EQ(describe_hex("82 05 00 01 00 01 61"), "error malformed_packet"); // no QoS byte
  EXPECT_EQ(describe_hex("82 05 00 01 00 02 61"), "error malformed_packet");
  EXPECT_EQ(describe_hex("82 05 00 01 00 00 00"), "error invalid_topic_filter"); // empty filter
  EXPECT_EQ(describe_hex("82 07 00 01 00 02 61 2b 00"), "error invalid_topic_filter");
  EXPECT_EQ(describe_hex("82 09 00 01 00 04 23 2f 61 62 00"), "error invalid_topic_filter");
  EXPECT_EQ(describe_hex("82 07 00 01 00 02 c0 80 00"), "error invalid_utf8");
  // The second of two subscriptions is broken.
  EXPECT_EQ(describe_hex("82 0b 00 01 00 01 61 00 00 02 61 23 01"), "error invalid_topic_filter");
  EXPECT_EQ(describe_hex("82 0a 00 01 00 01 61 00 00 02 61 2f"), "error malformed_packet");
  // All fields decoded.
  const auto in = from_hex("82 10 00 07 00 03 61 2f 23 01 00 01 2b 02 00 01 62 00");
  const parse_result r = parse(in);
  ASSERT_EQ(describe(r), "packet SUBSCRIBE");
  EXPECT_EQ(r.consumed, in.size());
  const auto& s = std::get<subscribe_packet>(r.pkt);
  EXPECT_EQ(s.packet_id, 7);
  ASSERT_EQ(s.subscriptions.size(), 3u);
  EXPECT_EQ(s.subscriptions[0], (subscription{"a/#", 1}));
  EXPECT_EQ(s.subscriptions[1], (subscription{"+", 2}));
  EXPECT_EQ(s.subscriptions[2], (subscription{"b", 0}));
}

TEST(MqttParser, Suback) {
  EXPECT_EQ(describe_hex("90 06 00 01 00 01 02 80"), "packet SUBACK");
  EXPECT_EQ(describe_hex("90 03 00 01 03"), "error malformed_packet");
  EXPECT_EQ(describe_hex("90 03 00 01 81"), "error malformed_packet");
  EXPECT_EQ(describe_hex("90 03 00 01 7f"), "error malformed_packet");
  EXPECT_EQ(describe_hex("90 02 00 01"), "error malformed_packet"); // no return code
  EXPECT_EQ(describe_hex("90 03 00 00 00"), "error zero_packet_id");
}

TEST(MqttParser, Unsubscribe) {
  EXPECT_EQ(describe_hex("a2 05 00 01 00 01 61"), "packet UNSUBSCRIBE");
  EXPECT_EQ(describe_hex("a2 05 00 00 00 01 61"), "error zero_packet_id");
  EXPECT_EQ(describe_hex("a2 02 00 01"), "error empty_unsubscribe"); // [MQTT-3.10.3-2]
  EXPECT_EQ(describe_hex("a2 04 00 01 00 00"), "error invalid_topic_filter");
  EXPECT_EQ(describe_hex("a2 06 00 01 00 02 2b 61"), "error invalid_topic_filter");
  EXPECT_EQ(describe_hex("a2 05 00 01 00 01 00"), "error invalid_utf8");
  EXPECT_EQ(describe_hex("a2 06 00 01 00 01 61 00"), "error malformed_packet");
  EXPECT_EQ(describe_hex("a2 05 00 01 00 03 61"), "error malformed_packet");
}

// ---- direction ----------------------------------------------------------------------------

TEST(MqttParser, ServerRefusesServerOnlyPackets) {
  parser_options server;
  server.side = parser_options::role::server;
  parser_options client;
  client.side = parser_options::role::client;
  for (const packet& p : sample_packets()) {
    const std::string wire = encoded(p);
    const packet_type t = type_of(p);
    const bool server_sends = t == packet_type::connack || t == packet_type::suback ||
                              t == packet_type::unsuback || t == packet_type::pingresp;
    const bool client_only = t == packet_type::connect || t == packet_type::subscribe ||
                             t == packet_type::unsubscribe || t == packet_type::pingreq ||
                             t == packet_type::disconnect;
    EXPECT_EQ(describe(parse(as_bytes(wire), server)),
              server_sends ? "error invalid_packet_type" : "packet " + std::string(to_string(t)));
    EXPECT_EQ(describe(parse(as_bytes(wire), client)),
              client_only ? "error invalid_packet_type" : "packet " + std::string(to_string(t)));
    // Known from the first byte.
    if (server_sends) {
      EXPECT_EQ(describe(parse(as_bytes(wire).first(1), server)), "error invalid_packet_type");
    }
  }
}

} // namespace
} // namespace thingport::mqtt
