// MQTT 3.1.1 (and 3.1 CONNECT) packets as values. No I/O here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace thingport::mqtt {

enum class packet_type : std::uint8_t {
  connect = 1,
  connack = 2,
  publish = 3,
  puback = 4,
  pubrec = 5,
  pubrel = 6,
  pubcomp = 7,
  subscribe = 8,
  suback = 9,
  unsubscribe = 10,
  unsuback = 11,
  pingreq = 12,
  pingresp = 13,
  disconnect = 14,
};

inline constexpr std::uint8_t protocol_level_311 = 4; // "MQTT"
inline constexpr std::uint8_t protocol_level_31 = 3;  // "MQIsdp"
inline constexpr std::uint8_t suback_failure = 0x80;

struct will_message {
  std::string topic;
  std::string payload;
  std::uint8_t qos = 0;
  bool retain = false;
  bool operator==(const will_message&) const = default;
};

struct connect_packet {
  std::uint8_t protocol_level = protocol_level_311;
  bool clean_session = true;
  std::uint16_t keepalive = 0; // seconds
  std::string client_id;
  std::optional<will_message> will;
  std::optional<std::string> username;
  std::optional<std::string> password; // binary data
  bool operator==(const connect_packet&) const = default;
};

// CONNACK return codes (MQTT 3.1.1 §3.2.2.3).
enum class connack_code : std::uint8_t {
  accepted = 0,
  unacceptable_protocol_version = 1,
  identifier_rejected = 2,
  server_unavailable = 3,
  bad_username_or_password = 4,
  not_authorized = 5,
};

struct connack_packet {
  bool session_present = false;
  connack_code code = connack_code::accepted;
  bool operator==(const connack_packet&) const = default;
};

// A decoded PUBLISH refers to the bytes it was decoded from: topic and payload are views into
// the caller's input buffer and are valid only until that buffer is consumed or changed.
struct publish_packet {
  std::string_view topic;
  std::string_view payload;
  std::uint8_t qos = 0;
  bool retain = false;
  bool dup = false;
  std::uint16_t packet_id = 0; // 0 when qos == 0
  bool operator==(const publish_packet&) const = default;
};

struct puback_packet {
  std::uint16_t packet_id = 0;
  bool operator==(const puback_packet&) const = default;
};
struct pubrec_packet {
  std::uint16_t packet_id = 0;
  bool operator==(const pubrec_packet&) const = default;
};
struct pubrel_packet {
  std::uint16_t packet_id = 0;
  bool operator==(const pubrel_packet&) const = default;
};
struct pubcomp_packet {
  std::uint16_t packet_id = 0;
  bool operator==(const pubcomp_packet&) const = default;
};

struct subscription {
  std::string filter;
  std::uint8_t qos = 0;
  bool operator==(const subscription&) const = default;
};

struct subscribe_packet {
  std::uint16_t packet_id = 0;
  std::vector<subscription> subscriptions; // at least one
  bool operator==(const subscribe_packet&) const = default;
};

struct suback_packet {
  std::uint16_t packet_id = 0;
  std::vector<std::uint8_t> return_codes; // 0,1,2 granted or 0x80 failure
  bool operator==(const suback_packet&) const = default;
};

struct unsubscribe_packet {
  std::uint16_t packet_id = 0;
  std::vector<std::string> filters; // at least one
  bool operator==(const unsubscribe_packet&) const = default;
};

struct unsuback_packet {
  std::uint16_t packet_id = 0;
  bool operator==(const unsuback_packet&) const = default;
};
struct pingreq_packet {
  bool operator==(const pingreq_packet&) const = default;
};
struct pingresp_packet {
  bool operator==(const pingresp_packet&) const = default;
};
struct disconnect_packet {
  bool operator==(const disconnect_packet&) const = default;
};

// Packets compare equal member by member (a PUBLISH by the bytes its views refer to).
// Alternatives are in packet_type order, so index() + 1 == packet_type value.
using packet =
    std::variant<connect_packet, connack_packet, publish_packet, puback_packet, pubrec_packet,
                 pubrel_packet, pubcomp_packet, subscribe_packet, suback_packet, unsubscribe_packet,
                 unsuback_packet, pingreq_packet, pingresp_packet, disconnect_packet>;

inline packet_type type_of(const packet& p) {
  return static_cast<packet_type>(p.index() + 1);
}

std::string_view to_string(packet_type t);

} // namespace thingport::mqtt
