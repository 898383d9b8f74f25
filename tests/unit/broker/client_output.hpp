// Reads what a broker::client queued for its socket the way the device at the other end would:
// one whole MQTT packet at a time, as a client-side parser sees them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "mqtt/parser.hpp"

namespace thingport::broker::test {

// Calls `on_packet(const mqtt::packet&)` for each whole packet in `out`, in order, then clears
// `out`. Views inside a packet point into `out`: copy what must outlive the call. Returns false
// if bytes were left that did not parse as a packet.
template <class F> bool drain_packets(std::string& out, F&& on_packet) {
  std::size_t at = 0;
  mqtt::parser_options po;
  po.side = mqtt::parser_options::role::client;
  bool whole = true;
  while (at < out.size()) {
    auto r =
        mqtt::parse({reinterpret_cast<const std::uint8_t*>(out.data()) + at, out.size() - at}, po);
    if (r.state != mqtt::parse_result::status::packet) {
      whole = false;
      break;
    }
    on_packet(r.pkt);
    at += r.consumed;
  }
  out.clear();
  return whole;
}

} // namespace thingport::broker::test
