// MQTT encoder: appends the wire form of a packet to an output buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mqtt/packet.hpp"

namespace thingport::mqtt {

// Appends `p` to `out`. The packet must be valid (encoding is for packets we build ourselves).
void encode(const packet& p, std::string& out);

// The hot path: a PUBLISH built from a shared message without building a publish_packet.
void encode_publish(std::string& out, std::string_view topic, std::string_view payload,
                    std::uint8_t qos, bool retain, bool dup, std::uint16_t packet_id);

// Exact encoded size of such a PUBLISH.
std::size_t publish_size(std::size_t topic_len, std::size_t payload_len, std::uint8_t qos) noexcept;

// Number of bytes of the variable-length "remaining length" field for `n`.
std::size_t remaining_length_size(std::size_t n) noexcept;

} // namespace thingport::mqtt
