// The PROXY header parser against the protocol's own examples and the ways a header can be
// wrong, short or hostile.
#include "net/proxy_header.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace thingport::net {
namespace {

using status = proxy_header_result::status;

std::vector<std::uint8_t> bytes(std::string_view s) {
  return {s.begin(), s.end()};
}

proxy_header_result parse(const std::vector<std::uint8_t>& b) {
  return parse_proxy_header(b);
}

// A version 2 header: signature, version 2 and `command`, `family_transport`, then `body`.
std::vector<std::uint8_t> v2(std::uint8_t command, std::uint8_t family_transport,
                             const std::vector<std::uint8_t>& body) {
  std::vector<std::uint8_t> h{0x0D,
                              0x0A,
                              0x0D,
                              0x0A,
                              0x00,
                              0x0D,
                              0x0A,
                              0x51,
                              0x55,
                              0x49,
                              0x54,
                              0x0A,
                              static_cast<std::uint8_t>(0x20 | command),
                              family_transport,
                              static_cast<std::uint8_t>(body.size() >> 8),
                              static_cast<std::uint8_t>(body.size() & 0xFF)};
  h.insert(h.end(), body.begin(), body.end());
  return h;
}

TEST(proxy_header, v1_tcp4_gives_the_source_and_the_length) {
  auto b = bytes("PROXY TCP4 192.0.2.7 10.0.0.1 51234 1883\r\n\x10\x0c");
  const auto r = parse(b);
  ASSERT_EQ(r.state, status::complete);
  EXPECT_EQ(r.length, b.size() - 2); // the MQTT bytes after it are not the header's
  ASSERT_TRUE(r.source);
  EXPECT_EQ(r.source->address().to_string(), "192.0.2.7");
  EXPECT_EQ(r.source->port(), 51234);
}

TEST(proxy_header, v1_tcp6_and_unknown) {
  const auto r = parse(bytes("PROXY TCP6 2001:db8::1 2001:db8::2 4000 8883\r\n"));
  ASSERT_EQ(r.state, status::complete);
  ASSERT_TRUE(r.source);
  EXPECT_TRUE(r.source->address().is_v6());
  EXPECT_EQ(r.source->address().to_string(), "2001:db8::1");
  const auto u = parse(bytes("PROXY UNKNOWN\r\n"));
  ASSERT_EQ(u.state, status::complete);
  EXPECT_EQ(u.length, 15u);
  EXPECT_FALSE(u.source); // the socket's own address stands
  EXPECT_EQ(parse(bytes("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n")).state, status::complete);
}

TEST(proxy_header, v1_needs_more_until_crlf_and_refuses_past_107_bytes) {
  for (std::string_view part : {"P", "PROX", "PROXY ", "PROXY TCP4 1.2.3.4",
                                "PROXY TCP4 1.2.3.4 "
                                "5.6.7.8 1 2\r"})
    EXPECT_EQ(parse(bytes(part)).state, status::need_more) << part;
  const std::string longest = "PROXY UNKNOWN " + std::string(91, 'x') + "\r\n"; // 107 bytes
  EXPECT_EQ(parse(bytes(longest)).state, status::complete);
  const std::string too_long = "PROXY UNKNOWN " + std::string(92, 'x') + "\r\n";
  EXPECT_EQ(parse(bytes(too_long)).state, status::invalid);
  EXPECT_EQ(parse(bytes("PROXY UNKNOWN " + std::string(200, 'x'))).state, status::invalid);
}

TEST(proxy_header, v1_malformed_lines_are_refused) {
  for (std::string_view bad : {
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",       // LF alone
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",      // CR not followed by LF
           "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",     // no such protocol
           "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",       // a port missing
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",   // a field too many
           "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",    // two spaces
           "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",   // not an address
           "PROXY TCP4 ::1 5.6.7.8 1 2\r\n",         // v6 in TCP4
           "PROXY TCP6 1.2.3.4 ::1 1 2\r\n",         // v4 in TCP6
           "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", // port out of range
           "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",    // leading zero
           "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",    // sign
           "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",    // scope id
           "PROXy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",     // not the word
       })
    EXPECT_EQ(parse(bytes(bad)).state, status::invalid) << bad;
}

TEST(proxy_header, a_client_without_a_header_is_refused_at_its_first_byte) {
  EXPECT_EQ(parse({0x10}).state, status::invalid);       // an MQTT CONNECT
  EXPECT_EQ(parse({0x16, 0x03}).state, status::invalid); // a TLS ClientHello
  EXPECT_EQ(parse(bytes("GET / HTTP/1.1\r\n")).state, status::invalid);
  EXPECT_EQ(parse({}).state, status::need_more);
}

TEST(proxy_header, v2_ipv4_ipv6_local_and_unspec) {
  const auto r4 = parse(v2(1, 0x11, {192, 0, 2, 7, 10, 0, 0, 1, 0xC8, 0x22, 0x07, 0x5B}));
  ASSERT_EQ(r4.state, status::complete);
  EXPECT_EQ(r4.length, 28u);
  ASSERT_TRUE(r4.source);
  EXPECT_EQ(r4.source->address().to_string(), "192.0.2.7");
  EXPECT_EQ(r4.source->port(), 0xC822);

  std::vector<std::uint8_t> a6(36, 0);
  a6[0] = 0x20, a6[1] = 0x01, a6[2] = 0x0d, a6[3] = 0xb8, a6[15] = 1; // 2001:db8::1
  a6[32] = 0x0F, a6[33] = 0xA0;                                       // port 4000
  const auto r6 = parse(v2(1, 0x21, a6));
  ASSERT_EQ(r6.state, status::complete);
  EXPECT_EQ(r6.source->address().to_string(), "2001:db8::1");
  EXPECT_EQ(r6.source->port(), 4000);

  const auto local = parse(v2(0, 0x00, {}));
  ASSERT_EQ(local.state, status::complete);
  EXPECT_EQ(local.length, 16u);
  EXPECT_FALSE(local.source);
  const auto local_with_addresses = parse(v2(0, 0x11, std::vector<std::uint8_t>(12, 1)));
  ASSERT_EQ(local_with_addresses.state, status::complete);
  EXPECT_FALSE(local_with_addresses.source);
  EXPECT_FALSE(parse(v2(1, 0x00, {})).source); // PROXY UNSPEC
}

TEST(proxy_header, v2_tlvs_are_skipped_and_the_following_bytes_left) {
  std::vector<std::uint8_t> body{127, 0, 0, 9, 127, 0, 0, 1, 0x30, 0x39, 0x07, 0x5B};
  const std::vector<std::uint8_t> tlv{0x01, 0x00, 0x04, 'm', 'q', 't', 't'}; // ALPN "mqtt"
  body.insert(body.end(), tlv.begin(), tlv.end());
  auto h = v2(1, 0x11, body);
  h.push_back(0x10); // the CONNECT's first byte
  const auto r = parse(h);
  ASSERT_EQ(r.state, status::complete);
  EXPECT_EQ(r.length, h.size() - 1);
  EXPECT_EQ(r.source->address().to_string(), "127.0.0.9");
  EXPECT_EQ(r.source->port(), 12345);
}

TEST(proxy_header, v2_short_needs_more_and_wrong_is_refused) {
  const auto whole = v2(1, 0x11, {1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2});
  for (std::size_t n = 1; n < whole.size(); ++n)
    EXPECT_EQ(parse({whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n)}).state,
              status::need_more)
        << n;
  auto bad_sig = whole;
  bad_sig[7] = 'q';
  EXPECT_EQ(parse(bad_sig).state, status::invalid);
  auto version1 = whole;
  version1[12] = 0x11;
  EXPECT_EQ(parse(version1).state, status::invalid);
  auto command2 = whole;
  command2[12] = 0x22;
  EXPECT_EQ(parse(command2).state, status::invalid);
  EXPECT_EQ(parse(v2(1, 0x11, {1, 2, 3})).state, status::invalid); // too short for IPv4
  EXPECT_EQ(parse(v2(1, 0x21, std::vector<std::uint8_t>(12, 0))).state,
            status::invalid); // too short for IPv6
  EXPECT_EQ(parse(v2(1, 0x12, std::vector<std::uint8_t>(12, 0))).state,
            status::invalid); // UDP
  EXPECT_EQ(parse(v2(1, 0x31, std::vector<std::uint8_t>(216, 0))).state,
            status::invalid); // a UNIX socket
}

TEST(proxy_header, v2_longer_than_the_bound_is_refused_before_it_is_read) {
  std::vector<std::uint8_t> head = v2(1, 0x11, {});
  const std::size_t body = max_proxy_header - 16 + 1;
  head[14] = static_cast<std::uint8_t>(body >> 8);
  head[15] = static_cast<std::uint8_t>(body & 0xFF);
  EXPECT_EQ(parse(head).state, status::invalid); // 16 bytes are enough to know
  head[14] = 0xFF, head[15] = 0xFF;
  EXPECT_EQ(parse(head).state, status::invalid);
  const auto at_bound = v2(1, 0x11, std::vector<std::uint8_t>(max_proxy_header - 16, 0));
  EXPECT_EQ(parse(at_bound).state, status::complete);
}

} // namespace
} // namespace thingport::net
