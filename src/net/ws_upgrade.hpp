// The rules for accepting a WebSocket upgrade (docs/protocol.md "Transports"), without I/O: which
// MQTT subprotocol to answer with, and whether a browser's Origin is allowed. Unit tested.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace thingport::net {

// `offered` is the Sec-WebSocket-Protocol header ("mqtt, mqttv3.1"; a client may also send the
// header several times, which HTTP joins with commas). Returns the first offered token we speak
// ("mqtt" or "mqttv3.1"), to be echoed in the 101 answer; nothing when none is offered.
std::optional<std::string_view> pick_subprotocol(std::string_view offered) noexcept;

// An upgrade without an Origin header is not from a browser and is allowed. With one, it must be
// in `allowed` (compared without regard to case), unless `allowed` is empty (allow all).
bool origin_allowed(std::string_view origin, const std::vector<std::string>& allowed) noexcept;

} // namespace thingport::net
