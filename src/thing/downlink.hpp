// What the platform sends down to a device (docs/protocol.md "Alink messages"): property sets,
// service calls, RRPC. The caller (HTTP API) gives a fresh id for each request and remembers it to
// match the device's reply (topic_kind::property_set_reply, service_reply, rrpc_response). Pure
// functions.
//
// Refusals (HTTP 400 for the API), nothing built:
//   bad_params (460)      items / input not a JSON object, empty, over 200 entries, a bad id,
//                         a property that is read-only (accessMode "r");
//   not_defined (6320)    a property or service the thing model does not define;
//   param_not_in_model    an input parameter the service does not define;
//   the data type's code  a value that fails its data type (value_check.hpp).
// Without a thing model everything is sent as given (identifiers still checked).
#pragma once

#include <boost/json/value.hpp>

#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "thing/tsl.hpp"

namespace thingport::thing {

struct downlink {
  std::string topic{};
  std::string payload{};
  std::string method{}; // Alink method; empty for raw RRPC
  bool sync = false;    // true: sent as RRPC, the device answers on rrpc/response/{id}
};

struct downlink_result {
  std::error_code ec{};  // thing::code
  std::string message{}; // why, naming the identifier
  downlink value{};

  explicit operator bool() const noexcept { return !ec; }
};

struct device_id {
  std::string_view product_key{};
  std::string_view device_name{};
};

// Ids: 1..64 characters of [0-9A-Za-z_-] [ours]; the platform uses decimal strings.
bool valid_request_id(std::string_view id) noexcept;

// thing.service.property.set on /sys/{pk}/{dn}/thing/service/property/set.
downlink_result property_set(const thing_model* model, device_id device, std::string_view id,
                             const boost::json::value& items);

// thing.service.property.get ["id1",...] as a synchronous call: over RRPC on
// /sys/{pk}/{dn}/rrpc/request/{id} (or /ext/rrpc/{id}/sys/{pk}/{dn}/thing/service/property/get for
// `ext_rrpc` devices); the device answers with its get_reply {"id","code","data":{id:value}}.
// Identifiers: 1..200, each defined by the model when there is one.
downlink_result property_get(const thing_model* model, device_id device, std::string_view id,
                             const std::vector<std::string>& identifiers, bool ext_rrpc = false);

// thing.service.{service} on /sys/{pk}/{dn}/thing/service/{service}; a sync service (callType
// sync) goes as RRPC on /sys/{pk}/{dn}/rrpc/request/{id} with the same Alink payload.
// `ext_rrpc`: the device logged in with ext bit 0 set (the Python Linkkit SDK), so a sync
// service goes on /ext/rrpc/{id}/sys/{pk}/{dn}/thing/service/{identifier}, where it also answers,
// instead of /sys/{pk}/{dn}/rrpc/request/{id}.
downlink_result service_call(const thing_model* model, device_id device, std::string_view id,
                             std::string_view service_id, const boost::json::value& input,
                             bool ext_rrpc = false);

// Raw RRPC: the payload as given on /sys/{pk}/{dn}/rrpc/request/{msgId}.
downlink_result rrpc_request(device_id device, std::string_view msg_id, std::string_view payload);

// RRPC on a custom topic: /ext/rrpc/{msgId}{topic}, for devices that connected with ext=1.
// `topic` must be one of the device's own (/{pk}/{dn}/...).
downlink_result ext_rrpc_request(device_id device, std::string_view msg_id, std::string_view topic,
                                 std::string_view payload);

} // namespace thingport::thing
