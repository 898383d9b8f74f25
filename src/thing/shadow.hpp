// The device shadow (docs/protocol.md "Alink messages", the platform's "device shadow data stream"
// page) as a value type: the stored document, and what a request on /shadow/update/{pk}/{dn} does
// to it. The answer goes to /shadow/get/{pk}/{dn}. Pure: the caller loads the shadow, applies,
// stores the new one (compare-and-set on the old version, store/thing_store.hpp) and publishes the
// reply.
//
// Requests: {"method":"update","state":{"reported":{..},"desired":{..}},"version":N}
//           {"method":"get"}
//           {"method":"delete","state":{"reported":{"a":"null"}|"null"},"version":N}
// A section or attribute set to "null" (or JSON null) is removed, in update and delete alike.
// Success: {"method":"reply","payload":{"status":"success","version":N},"timestamp":s}; a get
// also carries "state" and "metadata" in the payload and "version" beside it.
// Failure: {"method":"reply","payload":{"status":"error","content":{"errorcode":"409",
//           "errormessage":"Version conflict."}},"timestamp":s}
// Error codes (the platform's table): 400 invalid JSON (also [ours] a document over 16 KB),
// 401 no method, 402 no state, 403 version not an integer, 404 no reported (nor desired),
// 405 reported empty, 406 unknown method, 407 empty request, 408 more than 128 attributes,
// 409 version not greater than the shadow's, 500 server error (the store failed; the caller
// answers it with error_reply()).
// [ours] An update without a version takes the shadow's version + 1. Timestamps are seconds.
#pragma once

#include <boost/json/object.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "thing/json.hpp"

namespace thingport::thing {

inline constexpr std::size_t max_shadow_attributes = 128;
inline constexpr std::size_t max_shadow_bytes = 16 * 1024;

struct shadow_outcome;

class shadow {
public:
  shadow() = default; // version 0, empty

  // A document to_json() wrote; bad_request when it is not one (a damaged row).
  static result<shadow> from_json(std::string_view document);
  // {"state":{"reported":{..},"desired":{..}},"metadata":{"reported":{a:{"timestamp":s}},..},
  //  "timestamp":s,"version":N}; empty sections are left out.
  std::string to_json() const;

  std::int64_t version() const noexcept { return version_; }
  std::int64_t timestamp() const noexcept { return timestamp_; }
  const boost::json::object& reported() const noexcept { return reported_; }
  const boost::json::object& desired() const noexcept { return desired_; }

  // A request a device (or an application) published on /shadow/update/{pk}/{dn}.
  shadow_outcome apply(std::string_view payload, time_point now) const;

  // The cloud side sets desired values (HTTP API): version + 1, and the "control" message
  // that tells the device: {"method":"control","payload":{"status":"success","state":..,
  // "metadata":..},"version":N,"timestamp":s}. 408 when the attributes would exceed 128.
  shadow_outcome set_desired(const boost::json::object& desired, time_point now) const;

  // The failure reply for `code` (e.g. 500 when storing failed).
  static std::string error_reply(int code, time_point now);

  friend bool operator==(const shadow&, const shadow&) = default;

private:
  boost::json::object state_payload(bool with_status) const;

  boost::json::object reported_;
  boost::json::object desired_;
  boost::json::object reported_meta_;
  boost::json::object desired_meta_;
  std::int64_t version_ = 0;
  std::int64_t timestamp_ = 0;
};

struct shadow_outcome {
  int code = 200;                  // 200, or the error code of the reply
  std::string reply{};             // the payload for /shadow/get/{pk}/{dn}
  std::optional<shadow> updated{}; // the document to store when the request changed it
};

} // namespace thingport::thing
