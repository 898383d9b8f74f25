// What both ends of the Alink MQTT file download (thing/file/download) read and check the same
// way: the server's platform::ota_blocks and the device SDK's block download. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include <boost/json/object.hpp>

namespace thingport::thing {

// CRC-16/IBM (ARC: polynomial 0x8005 reflected, initial 0): the check after each block.
std::uint16_t crc16_arc(std::string_view data) noexcept;

// A non-negative integer member given as a JSON number or a decimal string; nullopt otherwise.
std::optional<std::uint64_t> count_of(const boost::json::object& o, std::string_view key) noexcept;

} // namespace thingport::thing
