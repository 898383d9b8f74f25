#include "mqtt/error.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "test_util.hpp"

namespace thingport::mqtt {
namespace {

TEST(MqttError, Category) {
  EXPECT_STREQ(error_category().name(), "mqtt");
  const std::error_code ec = errc::invalid_qos; // implicit via is_error_code_enum
  EXPECT_EQ(&ec.category(), &error_category());
  EXPECT_EQ(ec, errc::invalid_qos);
  EXPECT_NE(ec, errc::malformed_packet);
  EXPECT_TRUE(static_cast<bool>(ec));
  EXPECT_FALSE(static_cast<bool>(make_error_code(errc::ok)));
}

TEST(MqttError, MessagesAreReadableAndDistinct) {
  std::set<std::string> seen;
  for (const errc e : test::all_errcs) {
    const std::string m = make_error_code(e).message();
    EXPECT_FALSE(m.empty()) << test::errc_name(e);
    EXPECT_EQ(m.find("unknown"), std::string::npos) << test::errc_name(e);
    EXPECT_TRUE(seen.insert(m).second) << "duplicate message " << m;
  }
  EXPECT_NE(error_category().message(999).find("999"), std::string::npos);
}

TEST(MqttError, ConnackCodes) {
  EXPECT_EQ(connack_code_for(errc::unsupported_protocol_level),
            connack_code::unacceptable_protocol_version);
  EXPECT_EQ(connack_code_for(errc::identifier_rejected), connack_code::identifier_rejected);
  for (const errc e : test::all_errcs)
    if (e != errc::unsupported_protocol_level && e != errc::identifier_rejected) {
      EXPECT_EQ(connack_code_for(e), std::nullopt) << test::errc_name(e);
    }
  EXPECT_EQ(connack_code_for({}), std::nullopt);
  // Same value, other category: not ours.
  EXPECT_EQ(connack_code_for(std::error_code(static_cast<int>(errc::unsupported_protocol_level),
                                             std::generic_category())),
            std::nullopt);
}

} // namespace
} // namespace thingport::mqtt
