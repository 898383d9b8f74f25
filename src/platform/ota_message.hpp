// The OTA messages between the platform and a device's OTA client (docs/protocol.md "OTA"), as
// the official Link SDKs write and read them. Pure functions; any thread; network input never
// throws (nullopt / an error result).
//
//   /ota/device/upgrade/{pk}/{dn}          down  upgrade_message()
//   /ota/device/progress/{pk}/{dn}         up    parse_progress()
//   /ota/device/request/{pk}/{dn}          up    parse_firmware_request()
//   /sys/{pk}/{dn}/thing/ota/firmware/get  up    parse_firmware_request(); firmware_get_reply()
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

namespace thingport::platform {

// A device message's JSON object (at most 64 KiB), or nullopt.
std::optional<boost::json::object> parse_device_object(std::string_view payload);

struct upgrade_info {
  std::string version{};
  std::string module{};
  std::uint64_t size = 0;
  std::string md5{};
  std::string sha256{};
  std::string url{};
  // Not 0: an MQTT download (ota_blocks.hpp): "dProtocol":"mqtt", this "streamId" and
  // "streamFileId":1 in place of "url".
  std::uint32_t stream_id = 0;
};

// {"code":"1000","data":{"size":N,"sign":sha256,"version":..,"isDiff":0,"url":..,
//  "signMethod":"SHA256","md5":..,"module":..},"id":id,"message":"success"}; for an MQTT
// download "dProtocol":"mqtt","streamId":N,"streamFileId":1 instead of "url".
std::string upgrade_message(const upgrade_info& u, std::uint64_t id);

// The reply of thing.ota.firmware.get: {"code":200,"data":{as upgrade_message's, or {} when
// there is none},"id":<the request's id, as sent>,"message":"success","version":"1.0"}.
std::string firmware_get_reply(const std::optional<upgrade_info>& u, std::string_view id_json);

struct progress_report {
  int step = 0;         // -4..100 as sent ("step" may be a string or a number)
  std::string module{}; // empty when not given
  std::string desc{};
};
// {"id":..,"params":{"step":"-2","desc":"..","module":".."}}; step outside -1000..100, or not an
// integer: nullopt.
std::optional<progress_report> parse_progress(std::string_view payload);

struct firmware_request {
  std::string module{};         // "default" when not given
  std::string id_json{"\"0\""}; // the request's id as JSON text, to echo back
};
// {"id":..,"params":{"version":..,"module":..}} or Alink {"id":..,"params":{"module":..}}.
std::optional<firmware_request> parse_firmware_request(std::string_view payload);

// 1..64 bytes, no NUL (as an inform's version).
bool valid_firmware_version(std::string_view v) noexcept;
// 1..64 of [A-Za-z0-9_-].
bool valid_module_name(std::string_view m) noexcept;

} // namespace thingport::platform
