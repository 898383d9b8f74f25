// MQTT 3.1.1 encoder. Packets are ours, so their validity is an invariant (asserted), not
// something to report.
#include "mqtt/serializer.hpp"

#include <array>
#include <cassert>
#include <variant>

namespace thingport::mqtt {
namespace {

constexpr std::size_t max_remaining_length = 268'435'455; // 4 bytes of 7 bits
constexpr std::size_t max_field_length = 65535;

std::uint8_t first_byte(packet_type t, std::uint8_t flags) {
  return static_cast<std::uint8_t>(static_cast<std::uint8_t>(t) << 4 | flags);
}

// Writes the fixed header into `buf`, returns its length (2..5).
std::size_t put_fixed_header(std::uint8_t* buf, std::uint8_t first, std::size_t remaining) {
  assert(remaining <= max_remaining_length);
  buf[0] = first;
  std::size_t n = 1;
  do {
    auto b = static_cast<std::uint8_t>(remaining & 0x7F);
    remaining >>= 7;
    if (remaining != 0)
      b |= 0x80;
    buf[n++] = b;
  } while (remaining != 0);
  return n;
}

void put_fixed_header(std::string& out, std::uint8_t first, std::size_t remaining) {
  std::array<std::uint8_t, 5> buf{};
  const std::size_t n = put_fixed_header(buf.data(), first, remaining);
  out.append(reinterpret_cast<const char*>(buf.data()), n);
}

void put_u8(std::string& out, std::uint8_t v) {
  out.push_back(static_cast<char>(v));
}

void put_u16(std::string& out, std::uint16_t v) {
  const std::array<char, 2> b{static_cast<char>(v >> 8), static_cast<char>(v & 0xFF)};
  out.append(b.data(), b.size());
}

void put_prefixed(std::string& out, std::string_view s) {
  assert(s.size() <= max_field_length);
  put_u16(out, static_cast<std::uint16_t>(s.size()));
  out.append(s);
}

std::size_t prefixed_size(std::string_view s) {
  return 2 + s.size();
}

void encode_one(const connect_packet& c, std::string& out) {
  const std::string_view name = c.protocol_level == protocol_level_31 ? "MQIsdp" : "MQTT";
  std::size_t remaining = prefixed_size(name) + 1 + 1 + 2 + prefixed_size(c.client_id);
  std::uint8_t flags = c.clean_session ? 0x02 : 0x00;
  if (c.will) {
    remaining += prefixed_size(c.will->topic) + prefixed_size(c.will->payload);
    flags |= static_cast<std::uint8_t>(0x04 | (c.will->qos & 0x03) << 3);
    if (c.will->retain)
      flags |= 0x20;
  }
  if (c.username) {
    remaining += prefixed_size(*c.username);
    flags |= 0x80;
  }
  if (c.password) {
    remaining += prefixed_size(*c.password);
    flags |= 0x40;
  }
  out.reserve(out.size() + 5 + remaining);
  put_fixed_header(out, first_byte(packet_type::connect, 0), remaining);
  put_prefixed(out, name);
  put_u8(out, c.protocol_level);
  put_u8(out, flags);
  put_u16(out, c.keepalive);
  put_prefixed(out, c.client_id);
  if (c.will) {
    put_prefixed(out, c.will->topic);
    put_prefixed(out, c.will->payload);
  }
  if (c.username)
    put_prefixed(out, *c.username);
  if (c.password)
    put_prefixed(out, *c.password);
}

void encode_one(const connack_packet& c, std::string& out) {
  put_fixed_header(out, first_byte(packet_type::connack, 0), 2);
  put_u8(out, c.session_present ? 0x01 : 0x00);
  put_u8(out, static_cast<std::uint8_t>(c.code));
}

void encode_one(const publish_packet& p, std::string& out) {
  encode_publish(out, p.topic, p.payload, p.qos, p.retain, p.dup, p.packet_id);
}

void encode_id_only(packet_type t, std::uint8_t flags, std::uint16_t id, std::string& out) {
  const std::array<char, 4> b{static_cast<char>(first_byte(t, flags)), 2,
                              static_cast<char>(id >> 8), static_cast<char>(id & 0xFF)};
  out.append(b.data(), b.size());
}

void encode_one(const puback_packet& p, std::string& out) {
  encode_id_only(packet_type::puback, 0, p.packet_id, out);
}
void encode_one(const pubrec_packet& p, std::string& out) {
  encode_id_only(packet_type::pubrec, 0, p.packet_id, out);
}
void encode_one(const pubrel_packet& p, std::string& out) {
  encode_id_only(packet_type::pubrel, 0x02, p.packet_id, out);
}
void encode_one(const pubcomp_packet& p, std::string& out) {
  encode_id_only(packet_type::pubcomp, 0, p.packet_id, out);
}
void encode_one(const unsuback_packet& p, std::string& out) {
  encode_id_only(packet_type::unsuback, 0, p.packet_id, out);
}

void encode_one(const subscribe_packet& s, std::string& out) {
  std::size_t remaining = 2;
  for (const auto& sub : s.subscriptions)
    remaining += prefixed_size(sub.filter) + 1;
  out.reserve(out.size() + 5 + remaining);
  put_fixed_header(out, first_byte(packet_type::subscribe, 0x02), remaining);
  put_u16(out, s.packet_id);
  for (const auto& sub : s.subscriptions) {
    put_prefixed(out, sub.filter);
    put_u8(out, sub.qos);
  }
}

void encode_one(const suback_packet& s, std::string& out) {
  const std::size_t remaining = 2 + s.return_codes.size();
  out.reserve(out.size() + 5 + remaining);
  put_fixed_header(out, first_byte(packet_type::suback, 0), remaining);
  put_u16(out, s.packet_id);
  for (const std::uint8_t code : s.return_codes)
    put_u8(out, code);
}

void encode_one(const unsubscribe_packet& u, std::string& out) {
  std::size_t remaining = 2;
  for (const auto& f : u.filters)
    remaining += prefixed_size(f);
  out.reserve(out.size() + 5 + remaining);
  put_fixed_header(out, first_byte(packet_type::unsubscribe, 0x02), remaining);
  put_u16(out, u.packet_id);
  for (const auto& f : u.filters)
    put_prefixed(out, f);
}

void encode_empty(packet_type t, std::string& out) {
  const std::array<char, 2> b{static_cast<char>(first_byte(t, 0)), 0};
  out.append(b.data(), b.size());
}

void encode_one(const pingreq_packet&, std::string& out) {
  encode_empty(packet_type::pingreq, out);
}
void encode_one(const pingresp_packet&, std::string& out) {
  encode_empty(packet_type::pingresp, out);
}
void encode_one(const disconnect_packet&, std::string& out) {
  encode_empty(packet_type::disconnect, out);
}

} // namespace

void encode(const packet& p, std::string& out) {
  std::visit([&out](const auto& pkt) { encode_one(pkt, out); }, p);
}

void encode_publish(std::string& out, std::string_view topic, std::string_view payload,
                    std::uint8_t qos, bool retain, bool dup, std::uint16_t packet_id) {
  assert(qos <= 2 && topic.size() <= max_field_length);
  const std::size_t remaining = 2 + topic.size() + (qos > 0 ? 2 : 0) + payload.size();
  out.reserve(out.size() + 1 + remaining_length_size(remaining) + remaining);

  // Fixed header and topic length in one append, then topic, packet id and payload.
  std::array<std::uint8_t, 7> head{};
  const auto flags =
      static_cast<std::uint8_t>((dup ? 0x08 : 0) | (qos & 0x03) << 1 | (retain ? 0x01 : 0));
  std::size_t n = put_fixed_header(head.data(), first_byte(packet_type::publish, flags), remaining);
  head[n++] = static_cast<std::uint8_t>(topic.size() >> 8);
  head[n++] = static_cast<std::uint8_t>(topic.size() & 0xFF);
  out.append(reinterpret_cast<const char*>(head.data()), n);
  out.append(topic);
  if (qos > 0)
    put_u16(out, packet_id);
  out.append(payload);
}

std::size_t publish_size(std::size_t topic_len, std::size_t payload_len,
                         std::uint8_t qos) noexcept {
  const std::size_t remaining = 2 + topic_len + (qos > 0 ? 2 : 0) + payload_len;
  return 1 + remaining_length_size(remaining) + remaining;
}

std::size_t remaining_length_size(std::size_t n) noexcept {
  if (n < 128)
    return 1;
  if (n < 16'384)
    return 2;
  if (n < 2'097'152)
    return 3;
  return 4; // up to 268'435'455, the largest encodable
}

} // namespace thingport::mqtt
