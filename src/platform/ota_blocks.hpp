// MQTT block download of a firmware file (docs/protocol.md "OTA: MQTT block download"), for
// devices without HTTP, as the Link SDK 4.x's mqtt_download writes and reads it. Pure
// functions; any thread; network input never throws (nullopt).
//
//   /sys/{pk}/{dn}/thing/file/download        up    parse_block_request()
//   /sys/{pk}/{dn}/thing/file/download_reply  down  block_reply()
//
// A job with "downloadProtocol":"mqtt" sends upgrade messages with "dProtocol":"mqtt",
// "streamId" (stream_id_of() the firmware id) and "streamFileId":1 in place of the URL.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace thingport::platform {

inline constexpr std::uint64_t max_block_size = 64 * 1024; // a larger request is refused (400)

struct block_request {
  std::string id_json{"\"0\""};      // the request's id as JSON text, echoed in the reply
  std::string file_token{"default"}; // echoed
  std::uint64_t stream_id = 0;
  std::uint64_t file_id = 0;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

// {"id":"1","version":"1.0","params":{"fileToken":"default","fileInfo":{"streamId":N,
// "fileId":1,},"fileBlock":{"size":N,"offset":N}}} (the SDK writes a comma before the '}' of
// fileInfo: accepted). Numbers may be JSON numbers or decimal strings. Missing streamId, size
// or offset, negative numbers, over 4 KiB: nullopt.
std::optional<block_request> parse_block_request(std::string_view payload);

// The reply's bytes: a 2-byte big-endian length, that many bytes of JSON
// {"id":..,"code":200,"msg":"success","data":{"fileToken":..,"fileLength":L,"bSize":n,
// "bOffset":o}}, the block, then its CRC-16/IBM (ARC: poly 0x8005 reflected, init 0) low byte
// first. An error (code != 200) has {"id","code","msg"} only, no block and no CRC.
std::string block_reply(const block_request& r, std::uint64_t file_length, std::string_view block);
std::string block_error(std::string_view id_json, int code, std::string_view msg);

// The streamId of a firmware (its id's first 7 hex digits + 1: 1..2^28). Not unique across
// firmwares: a request is served from the device's own open job, whose firmware must match.
std::uint32_t stream_id_of(std::string_view firmware_id) noexcept;

} // namespace thingport::platform
