#include "mqtt/error.hpp"

#include <string>

namespace thingport::mqtt {
namespace {

class category final : public std::error_category {
public:
  const char* name() const noexcept override { return "mqtt"; }

  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
    case errc::ok:
      return "success";
    case errc::malformed_remaining_length:
      return "malformed remaining length";
    case errc::packet_too_large:
      return "packet too large";
    case errc::invalid_packet_type:
      return "invalid or unexpected packet type";
    case errc::invalid_fixed_header_flags:
      return "invalid fixed header flags";
    case errc::malformed_packet:
      return "malformed packet";
    case errc::invalid_utf8:
      return "invalid UTF-8 string";
    case errc::invalid_topic_name:
      return "invalid topic name";
    case errc::invalid_topic_filter:
      return "invalid topic filter";
    case errc::zero_packet_id:
      return "packet identifier is zero";
    case errc::invalid_qos:
      return "invalid QoS";
    case errc::empty_subscribe:
      return "SUBSCRIBE without topic filters";
    case errc::empty_unsubscribe:
      return "UNSUBSCRIBE without topic filters";
    case errc::invalid_protocol_name:
      return "invalid protocol name";
    case errc::unsupported_protocol_level:
      return "unsupported protocol level";
    case errc::invalid_connect_flags:
      return "invalid CONNECT flags";
    case errc::identifier_rejected:
      return "client identifier rejected";
    case errc::payload_too_large:
      return "payload too large";
    }
    return "unknown mqtt error " + std::to_string(ev);
  }
};

} // namespace

const std::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

std::optional<connack_code> connack_code_for(std::error_code ec) noexcept {
  if (ec.category() != error_category())
    return std::nullopt;
  switch (static_cast<errc>(ec.value())) {
  case errc::unsupported_protocol_level:
    return connack_code::unacceptable_protocol_version; // [MQTT-3.1.2-2]
  case errc::identifier_rejected:
    return connack_code::identifier_rejected; // [MQTT-3.1.3-9]
  default:
    return std::nullopt;
  }
}

} // namespace thingport::mqtt
