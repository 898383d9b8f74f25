// The auto listener's first-byte rule (docs/protocol.md "Transports").
#include <gtest/gtest.h>

#include "net/sniff.hpp"

namespace thingport::net {
namespace {

TEST(Sniff, TellsTheThreeProtocolsApart) {
  EXPECT_EQ(sniff(0x16), sniffed::tls);  // TLS handshake record
  EXPECT_EQ(sniff(0x10), sniffed::mqtt); // CONNECT
  EXPECT_EQ(sniff('G'), sniffed::http);  // GET: a WebSocket upgrade
}

TEST(Sniff, EverythingElseIsUnknown) {
  for (int b = 0; b < 256; ++b) {
    if (b == 0x16 || b == 0x10 || b == 'G')
      continue;
    EXPECT_EQ(sniff(static_cast<std::uint8_t>(b)), sniffed::unknown) << b;
  }
  // near misses: other MQTT packet types, CONNECT with reserved flags, other HTTP methods,
  // other TLS record types (alert, application data), SSLv2-style hello
  for (int b : {0x11, 0x20, 0x30, 0x82, 0xC0, 0xE0, int{'g'}, int{'P'}, int{'H'}, 0x15, 0x17, 0x80})
    EXPECT_EQ(sniff(static_cast<std::uint8_t>(b)), sniffed::unknown) << b;
}

TEST(Sniff, InsideTlsNoSecondTls) {
  EXPECT_EQ(sniff_inside_tls(0x10), sniffed::mqtt);
  EXPECT_EQ(sniff_inside_tls('G'), sniffed::http);
  EXPECT_EQ(sniff_inside_tls(0x16), sniffed::unknown);
  EXPECT_EQ(sniff_inside_tls(0x00), sniffed::unknown);
}

static_assert(sniff(0x16) == sniffed::tls, "usable at compile time");

} // namespace
} // namespace thingport::net
