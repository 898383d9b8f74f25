// The params of the smaller Alink requests (docs/protocol.md "Alink messages"), read into plain
// values. Each returns bad_params (460) for params of the wrong shape, so nothing is stored
// half-way. Pure functions; any thread.
#pragma once

#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "thing/json.hpp"

namespace thingport::thing {

inline constexpr std::size_t max_attributes_per_request = 100; // [ours]
inline constexpr std::size_t max_attribute_key = 100;          // [ours]
inline constexpr std::size_t max_attribute_value = 1024;       // [ours] bytes

// Device info tag keys [ours]: 1..100 of [A-Za-z0-9_.], starting with a letter.
bool valid_attribute_key(std::string_view key) noexcept;

struct attribute {
  std::string key{};
  std::string value{};
  friend bool operator==(const attribute&, const attribute&) = default;
};

// thing.deviceinfo.update: [{"attrKey":"Temperature","attrValue":"36.8"},..]; values are
// strings of 1..1024 bytes (numbers are taken as their JSON text).
result<std::vector<attribute>> parse_deviceinfo_update(const boost::json::value& params);
// thing.deviceinfo.delete: [{"attrKey":"Temperature"},..]
result<std::vector<std::string>> parse_deviceinfo_delete(const boost::json::value& params);

// thing.property.desired.get: ["power","temperature"] (empty: every desired value).
result<std::vector<std::string>> parse_desired_get(const boost::json::value& params);

struct desired_delete {
  std::string identifier{};
  std::optional<std::int64_t> version{}; // delete only if the stored version is not newer
  friend bool operator==(const desired_delete&, const desired_delete&) = default;
};
// thing.property.desired.delete: {"power":{"version":1},"temperature":{}}
result<std::vector<desired_delete>> parse_desired_delete(const boost::json::value& params);

struct ota_version {
  std::string module = "default";
  std::string version{};
  friend bool operator==(const ota_version&, const ota_version&) = default;
};
// /ota/device/inform: {"id":123,"params":{"version":"1.0.1","module":"MCU"}}; version 1..64
// bytes, module 1..64 of [A-Za-z0-9_-] ("default" when absent).
result<ota_version> parse_ota_inform(std::string_view payload);

} // namespace thingport::thing
