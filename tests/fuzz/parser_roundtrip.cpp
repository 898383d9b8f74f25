#include "parser_roundtrip.hpp"

#include <variant>

#include "mqtt/error.hpp"
#include "mqtt/parser.hpp"
#include "mqtt/serializer.hpp"

namespace thingport::mqtt::fuzz {
namespace {

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

bool is_server_only(packet_type t) {
  return t == packet_type::connack || t == packet_type::suback || t == packet_type::unsuback ||
         t == packet_type::pingresp;
}

bool is_client_only(packet_type t) {
  return t == packet_type::connect || t == packet_type::subscribe ||
         t == packet_type::unsubscribe || t == packet_type::pingreq || t == packet_type::disconnect;
}

std::string check_prefixes(std::span<const std::uint8_t> wire) {
  fixed_header h;
  std::error_code ec;
  if (peek_fixed_header(wire, h, ec) != parse_result::status::packet)
    return "peek_fixed_header refuses an encoded packet";
  // All prefixes of small packets; the header region and a few body cuts of big ones.
  for (std::size_t n = 0; n < wire.size(); ++n) {
    if (wire.size() > 512 && n > 16 && n + 16 < wire.size() && n % 97 != 0)
      continue;
    const parse_result r = parse(wire.first(n));
    if (r.state != parse_result::status::need_more)
      return "a strict prefix of a valid packet is not need_more";
    const std::size_t want = n < h.header_length ? 0 : wire.size();
    if (r.needed != want)
      return "need_more reports a wrong `needed`";
  }
  return {};
}

std::string check_packet(std::span<const std::uint8_t> original, const packet& p) {
  std::string wire;
  encode(p, wire);
  const parse_result again = parse(bytes_of(wire));
  if (again.state != parse_result::status::packet)
    return "re-encoded packet does not decode: " + again.ec.message();
  if (again.consumed != wire.size())
    return "re-encoded packet decodes with a different size";
  if (!(again.pkt == p))
    return "re-encoded packet decodes to a different packet";
  if (const auto* pub = std::get_if<publish_packet>(&p)) {
    if (publish_size(pub->topic.size(), pub->payload.size(), pub->qos) != wire.size())
      return "publish_size disagrees with encode";
    std::string fast;
    encode_publish(fast, pub->topic, pub->payload, pub->qos, pub->retain, pub->dup, pub->packet_id);
    if (fast != wire)
      return "encode_publish disagrees with encode";
  }
  if (auto e = check_prefixes(bytes_of(wire)); !e.empty())
    return e;
  if (auto e = check_prefixes(original); !e.empty())
    return "original bytes: " + e;

  const packet_type t = type_of(p);
  parser_options server;
  server.side = parser_options::role::server;
  parser_options client;
  client.side = parser_options::role::client;
  for (const auto& [opts, refused] :
       {std::pair{server, is_server_only(t)}, std::pair{client, is_client_only(t)}}) {
    const parse_result r = parse(original, opts);
    if (refused ? r.ec != errc::invalid_packet_type
                : (r.state != parse_result::status::packet || !(r.pkt == p)))
      return "direction check inconsistent";
  }

  // Tight limits: the packet is either unchanged or refused for its size.
  parser_options tight;
  tight.max_remaining_length = original.size() / 2;
  tight.max_payload = 3;
  const parse_result r = parse(original, tight);
  if (r.state == parse_result::status::packet
          ? !(r.pkt == p)
          : r.ec != errc::packet_too_large && r.ec != errc::payload_too_large)
    return "size limits inconsistent";
  return {};
}

} // namespace

std::string check_parser_input(std::span<const std::uint8_t> input) {
  std::span<const std::uint8_t> rest = input;
  while (!rest.empty()) {
    const parse_result r = parse(rest);
    switch (r.state) {
    case parse_result::status::packet: {
      if (r.consumed == 0 || r.consumed > rest.size())
        return "consumed out of range";
      if (static_cast<std::uint8_t>(type_of(r.pkt)) != rest[0] >> 4)
        return "decoded type differs from the first byte";
      if (auto e = check_packet(rest.first(r.consumed), r.pkt); !e.empty())
        return std::string(to_string(type_of(r.pkt))) + ": " + e;
      rest = rest.subspan(r.consumed);
      break;
    }
    case parse_result::status::need_more:
      if (r.needed != 0 && r.needed <= rest.size())
        return "need_more although `needed` bytes are present";
      return {};
    case parse_result::status::error:
      if (!r.ec || r.ec.category() != error_category())
        return "error without an mqtt error code";
      return {};
    }
  }
  return {};
}

} // namespace thingport::mqtt::fuzz
