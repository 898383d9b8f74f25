// Incremental MQTT 3.1.1 decoder. Every check names the normative statement it enforces.
// Nothing here throws or asserts on input: every failure is an errc value.
#include "mqtt/parser.hpp"

#include <string>
#include <string_view>
#include <utility>

#include "mqtt/error.hpp"
#include "mqtt/topic.hpp"

namespace thingport::mqtt {
namespace {

constexpr std::size_t max_header_length = 5; // type byte + at most 4 remaining-length bytes

// Forward-only cursor over one packet body. A read past the end fails; the caller turns that
// into errc::malformed_packet.
class reader {
public:
  explicit reader(std::span<const std::uint8_t> body) noexcept
      : p_(body.data()), end_(body.data() + body.size()) {}

  bool at_end() const noexcept { return p_ == end_; }

  bool u8(std::uint8_t& v) noexcept {
    if (p_ == end_)
      return false;
    v = *p_++;
    return true;
  }

  bool u16(std::uint16_t& v) noexcept {
    if (end_ - p_ < 2)
      return false;
    v = static_cast<std::uint16_t>(p_[0] << 8 | p_[1]);
    p_ += 2;
    return true;
  }

  // A two-byte length followed by that many bytes (UTF-8 string or binary data, §1.5.3).
  bool prefixed(std::string_view& v) noexcept {
    std::uint16_t n = 0;
    if (!u16(n) || end_ - p_ < n)
      return false;
    v = {reinterpret_cast<const char*>(p_), n};
    p_ += n;
    return true;
  }

  std::string_view rest() noexcept {
    std::string_view v{reinterpret_cast<const char*>(p_), static_cast<std::size_t>(end_ - p_)};
    p_ = end_;
    return v;
  }

private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

// A UTF-8 encoded string field [MQTT-1.5.3-1], [MQTT-1.5.3-2].
std::error_code read_utf8(reader& r, std::string_view& s) {
  if (!r.prefixed(s))
    return errc::malformed_packet;
  if (!valid_utf8(s))
    return errc::invalid_utf8;
  return {};
}

std::error_code read_packet_id(reader& r, std::uint16_t& id) {
  if (!r.u16(id))
    return errc::malformed_packet;
  if (id == 0)
    return errc::zero_packet_id; // [MQTT-2.3.1-1]
  return {};
}

std::error_code read_topic_filter(reader& r, std::string_view& filter) {
  if (auto ec = read_utf8(r, filter))
    return ec;
  if (!valid_topic_filter(filter))
    return errc::invalid_topic_filter; // [MQTT-4.7.1-1..3], [MQTT-4.7.3-1]
  return {};
}

std::error_code topic_name_error(std::string_view topic) {
  if (valid_topic_name(topic))
    return {};
  if (!valid_utf8(topic))
    return errc::invalid_utf8;
  return errc::invalid_topic_name; // [MQTT-3.3.2-2], [MQTT-4.7.3-1]
}

std::uint8_t publish_qos(std::uint8_t flags) noexcept {
  return (flags >> 1) & 0x03;
}

// The PUBLISH size checks that need only the remaining length and the topic length, so that
// an oversized payload is refused before it has arrived, and with the same error either way.
std::error_code check_publish_lengths(const fixed_header& h, std::uint16_t topic_len,
                                      const parser_options& opts) {
  const std::size_t fields = 2 + std::size_t{topic_len} + (publish_qos(h.flags) > 0 ? 2 : 0);
  if (h.remaining_length < fields)
    return errc::malformed_packet;
  if (h.remaining_length - fields > opts.max_payload)
    return errc::payload_too_large;
  return {};
}

std::error_code check_flags(packet_type t, std::uint8_t flags) {
  switch (t) {
  case packet_type::publish:
    if (publish_qos(flags) == 3)
      return errc::invalid_qos; // [MQTT-3.3.1-4]
    if (publish_qos(flags) == 0 && (flags & 0x08) != 0)
      return errc::invalid_fixed_header_flags; // [MQTT-3.3.1-2]
    return {};
  case packet_type::pubrel:
  case packet_type::subscribe:
  case packet_type::unsubscribe:
    // [MQTT-3.6.1-1], [MQTT-3.8.1-1], [MQTT-3.10.1-1]
    return flags == 0x02 ? std::error_code{} : errc::invalid_fixed_header_flags;
  default:
    return flags == 0 ? std::error_code{} : errc::invalid_fixed_header_flags; // [MQTT-2.2.2-1]
  }
}

// Packets that only flow the other way are refused: a client never sends CONNACK, a server
// never sends CONNECT. DISCONNECT goes client to server only in 3.1.1.
bool may_receive(parser_options::role side, packet_type t) {
  switch (side) {
  case parser_options::role::server:
    return t != packet_type::connack && t != packet_type::suback && t != packet_type::unsuback &&
           t != packet_type::pingresp;
  case parser_options::role::client:
    return t != packet_type::connect && t != packet_type::subscribe &&
           t != packet_type::unsubscribe && t != packet_type::pingreq &&
           t != packet_type::disconnect;
  case parser_options::role::any:
    break;
  }
  return true;
}

// Remaining length of the packets whose body has a fixed size, or -1.
int fixed_remaining_length(packet_type t) {
  switch (t) {
  case packet_type::connack:
  case packet_type::puback:
  case packet_type::pubrec:
  case packet_type::pubrel:
  case packet_type::pubcomp:
  case packet_type::unsuback:
    return 2;
  case packet_type::pingreq:
  case packet_type::pingresp:
  case packet_type::disconnect:
    return 0;
  default:
    return -1;
  }
}

// §3.1
std::error_code decode_connect(reader& r, packet& out) {
  std::string_view name;
  if (!r.prefixed(name))
    return errc::malformed_packet;
  std::uint8_t level = 0;
  if (name == "MQTT") {
    if (!r.u8(level))
      return errc::malformed_packet;
    if (level != protocol_level_311)
      return errc::unsupported_protocol_level; // [MQTT-3.1.2-2]
  } else if (name == "MQIsdp") {
    if (!r.u8(level))
      return errc::malformed_packet;
    if (level != protocol_level_31)
      return errc::unsupported_protocol_level;
  } else {
    return errc::invalid_protocol_name; // [MQTT-3.1.2-1]
  }

  std::uint8_t flags = 0;
  if (!r.u8(flags))
    return errc::malformed_packet;
  const bool has_username = (flags & 0x80) != 0;
  const bool has_password = (flags & 0x40) != 0;
  const bool will_retain = (flags & 0x20) != 0;
  const auto will_qos = static_cast<std::uint8_t>((flags >> 3) & 0x03);
  const bool has_will = (flags & 0x04) != 0;
  if ((flags & 0x01) != 0)
    return errc::invalid_connect_flags; // [MQTT-3.1.2-3]
  if (!has_will && (will_qos != 0 || will_retain))
    return errc::invalid_connect_flags; // [MQTT-3.1.2-11], [MQTT-3.1.2-13], [MQTT-3.1.2-15]
  if (will_qos == 3)
    return errc::invalid_qos; // [MQTT-3.1.2-14]
  if (has_password && !has_username)
    return errc::invalid_connect_flags; // [MQTT-3.1.2-22]

  auto& c = out.emplace<connect_packet>();
  c.protocol_level = level;
  c.clean_session = (flags & 0x02) != 0;
  if (!r.u16(c.keepalive))
    return errc::malformed_packet;

  // Any length is accepted here, even empty [MQTT-3.1.3-6]; policy is the broker's.
  std::string_view field;
  if (auto ec = read_utf8(r, field))
    return ec;
  c.client_id = field;

  if (has_will) {
    auto& w = c.will.emplace();
    w.qos = will_qos;
    w.retain = will_retain;
    if (auto ec = read_utf8(r, field))
      return ec;
    if (auto ec = topic_name_error(field))
      return ec;
    w.topic = field;
    if (!r.prefixed(field))
      return errc::malformed_packet;
    w.payload = field;
  }
  if (has_username) {
    if (auto ec = read_utf8(r, field)) // [MQTT-3.1.3-11]
      return ec;
    c.username.emplace(field);
  }
  if (has_password) {
    if (!r.prefixed(field))
      return errc::malformed_packet;
    c.password.emplace(field);
  }
  return r.at_end() ? std::error_code{} : errc::malformed_packet;
}

// §3.2
std::error_code decode_connack(reader& r, packet& out) {
  std::uint8_t ack_flags = 0;
  std::uint8_t code = 0;
  if (!r.u8(ack_flags) || !r.u8(code) || !r.at_end())
    return errc::malformed_packet;
  if ((ack_flags & 0xFE) != 0)
    return errc::malformed_packet; // [MQTT-3.2.2-1] reserved bits
  if (code > static_cast<std::uint8_t>(connack_code::not_authorized))
    return errc::malformed_packet; // §3.2.2.3: 6-255 reserved
  const bool session_present = (ack_flags & 0x01) != 0;
  if (session_present && code != 0)
    return errc::malformed_packet; // [MQTT-3.2.2-4]
  out.emplace<connack_packet>(connack_packet{session_present, static_cast<connack_code>(code)});
  return {};
}

// §3.3
std::error_code decode_publish(const fixed_header& h, reader& r, const parser_options& opts,
                               packet& out) {
  std::uint16_t topic_len = 0;
  if (!r.u16(topic_len))
    return errc::malformed_packet;
  if (auto ec = check_publish_lengths(h, topic_len, opts))
    return ec;
  // The lengths add up (checked above), so the reads below cannot run short.
  publish_packet p;
  p.dup = (h.flags & 0x08) != 0;
  p.qos = publish_qos(h.flags);
  p.retain = (h.flags & 0x01) != 0;
  const std::string_view rest = r.rest();
  p.topic = rest.substr(0, topic_len);
  if (auto ec = topic_name_error(p.topic))
    return ec;
  std::size_t offset = topic_len;
  if (p.qos > 0) {
    p.packet_id = static_cast<std::uint16_t>(static_cast<std::uint8_t>(rest[offset]) << 8 |
                                             static_cast<std::uint8_t>(rest[offset + 1]));
    if (p.packet_id == 0)
      return errc::zero_packet_id; // [MQTT-2.3.1-1]
    offset += 2;
  }
  p.payload = rest.substr(offset);
  out.emplace<publish_packet>(p);
  return {};
}

// §3.4-3.7 and §3.11: just a packet identifier.
template <class Ack> std::error_code decode_ack(reader& r, packet& out) {
  Ack a;
  if (auto ec = read_packet_id(r, a.packet_id))
    return ec;
  if (!r.at_end())
    return errc::malformed_packet;
  out.emplace<Ack>(a);
  return {};
}

// §3.8
std::error_code decode_subscribe(reader& r, packet& out) {
  std::uint16_t id = 0;
  if (auto ec = read_packet_id(r, id))
    return ec;
  if (r.at_end())
    return errc::empty_subscribe; // [MQTT-3.8.3-3]
  auto& s = out.emplace<subscribe_packet>();
  s.packet_id = id;
  while (!r.at_end()) {
    std::string_view filter;
    if (auto ec = read_topic_filter(r, filter))
      return ec;
    std::uint8_t qos = 0;
    if (!r.u8(qos))
      return errc::malformed_packet;
    if ((qos & 0xFC) != 0)
      return errc::malformed_packet; // [MQTT-3-8.3-4] reserved bits
    if (qos == 3)
      return errc::invalid_qos; // [MQTT-3-8.3-4]
    s.subscriptions.push_back(subscription{std::string(filter), qos});
  }
  return {};
}

// §3.9
std::error_code decode_suback(reader& r, packet& out) {
  std::uint16_t id = 0;
  if (auto ec = read_packet_id(r, id))
    return ec;
  if (r.at_end())
    return errc::malformed_packet; // one return code per subscription, at least one
  auto& s = out.emplace<suback_packet>();
  s.packet_id = id;
  for (const char c : r.rest()) {
    const auto code = static_cast<std::uint8_t>(c);
    if (code > 2 && code != suback_failure)
      return errc::malformed_packet; // §3.9.3: other values are reserved
    s.return_codes.push_back(code);
  }
  return {};
}

// §3.10
std::error_code decode_unsubscribe(reader& r, packet& out) {
  std::uint16_t id = 0;
  if (auto ec = read_packet_id(r, id))
    return ec;
  if (r.at_end())
    return errc::empty_unsubscribe; // [MQTT-3.10.3-2]
  auto& u = out.emplace<unsubscribe_packet>();
  u.packet_id = id;
  while (!r.at_end()) {
    std::string_view filter;
    if (auto ec = read_topic_filter(r, filter))
      return ec;
    u.filters.emplace_back(filter);
  }
  return {};
}

std::error_code decode_body(const fixed_header& h, std::span<const std::uint8_t> body,
                            const parser_options& opts, packet& out) {
  reader r(body);
  switch (h.type) {
  case packet_type::connect:
    return decode_connect(r, out);
  case packet_type::connack:
    return decode_connack(r, out);
  case packet_type::publish:
    return decode_publish(h, r, opts, out);
  case packet_type::puback:
    return decode_ack<puback_packet>(r, out);
  case packet_type::pubrec:
    return decode_ack<pubrec_packet>(r, out);
  case packet_type::pubrel:
    return decode_ack<pubrel_packet>(r, out);
  case packet_type::pubcomp:
    return decode_ack<pubcomp_packet>(r, out);
  case packet_type::subscribe:
    return decode_subscribe(r, out);
  case packet_type::suback:
    return decode_suback(r, out);
  case packet_type::unsubscribe:
    return decode_unsubscribe(r, out);
  case packet_type::unsuback:
    return decode_ack<unsuback_packet>(r, out);
  case packet_type::pingreq:
    out.emplace<pingreq_packet>();
    return {};
  case packet_type::pingresp:
    out.emplace<pingresp_packet>();
    return {};
  case packet_type::disconnect:
    out.emplace<disconnect_packet>();
    return {};
  }
  return errc::invalid_packet_type; // unreachable: peek_fixed_header checked the type
}

} // namespace

parse_result::status peek_fixed_header(std::span<const std::uint8_t> in, fixed_header& out,
                                       std::error_code& ec, const parser_options& opts) {
  using status = parse_result::status;
  ec.clear();
  if (in.empty())
    return status::need_more;

  // Everything the first byte says is checked before waiting for the length.
  const auto type_bits = static_cast<std::uint8_t>(in[0] >> 4);
  const auto flags = static_cast<std::uint8_t>(in[0] & 0x0F);
  if (type_bits == 0 || type_bits == 15) {
    ec = errc::invalid_packet_type; // §2.2.1: reserved
    return status::error;
  }
  const auto type = static_cast<packet_type>(type_bits);
  if ((ec = check_flags(type, flags)))
    return status::error;
  if (!may_receive(opts.side, type)) {
    ec = errc::invalid_packet_type;
    return status::error;
  }

  // §2.2.3: 7 bits per byte, least significant first, at most 4 bytes.
  std::size_t length = 0;
  std::size_t i = 1;
  for (;; ++i) {
    if (i >= in.size())
      return status::need_more;
    const std::uint8_t b = in[i];
    length |= static_cast<std::size_t>(b & 0x7F) << (7 * (i - 1));
    if ((b & 0x80) == 0)
      break;
    if (i + 1 == max_header_length) {
      ec = errc::malformed_remaining_length;
      return status::error;
    }
  }

  const int fixed = fixed_remaining_length(type);
  if (fixed >= 0 && length != static_cast<std::size_t>(fixed)) {
    ec = errc::malformed_packet; // e.g. [MQTT-3.12.1] PINGREQ has no body
    return status::error;
  }
  if (length > opts.max_remaining_length) {
    ec = errc::packet_too_large;
    return status::error;
  }
  out = fixed_header{type, flags, length, i + 1};
  return status::packet;
}

parse_result parse(std::span<const std::uint8_t> in, const parser_options& opts) {
  parse_result r;
  fixed_header h;
  r.state = peek_fixed_header(in, h, r.ec, opts);
  if (r.state != parse_result::status::packet)
    return r;

  const std::size_t total = h.header_length + h.remaining_length;
  if (in.size() < total) {
    r.state = parse_result::status::need_more;
    r.needed = total;
    // Refuse an oversized PUBLISH payload as soon as the topic length is known.
    if (h.type == packet_type::publish && in.size() >= h.header_length + 2) {
      const auto topic_len =
          static_cast<std::uint16_t>(in[h.header_length] << 8 | in[h.header_length + 1]);
      if ((r.ec = check_publish_lengths(h, topic_len, opts))) {
        r.state = parse_result::status::error;
        r.needed = 0;
      }
    }
    return r;
  }

  if ((r.ec = decode_body(h, in.subspan(h.header_length, h.remaining_length), opts, r.pkt))) {
    r.state = parse_result::status::error;
    return r;
  }
  r.consumed = total;
  return r;
}

} // namespace thingport::mqtt
