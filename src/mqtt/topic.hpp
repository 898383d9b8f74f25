// Topic names and filters (MQTT 3.1.1 §4.7).
#pragma once

#include <string_view>

namespace thingport::mqtt {

// Well-formed UTF-8 by RFC 3629 (no overlongs, no surrogates, at most U+10FFFF) without U+0000.
bool valid_utf8(std::string_view s) noexcept;

// A PUBLISH topic: 1..65535 bytes of valid UTF-8 (as above), no '+' or '#'.
bool valid_topic_name(std::string_view topic) noexcept;

// A SUBSCRIBE filter: 1..65535 bytes of valid UTF-8 (as above), '+' only as a whole level,
// '#' only as the whole last level.
bool valid_topic_filter(std::string_view filter) noexcept;

// Does `filter` match `topic`? Both must be valid. Topics beginning with '$' are not matched
// by a filter whose first level is a wildcard ([MQTT-4.7.2-1]). A reference implementation:
// the broker's topic index is checked against it.
bool topic_matches(std::string_view filter, std::string_view topic) noexcept;

// Both valid filters: every topic `inner` matches is also matched by `outer` ("a/#" covers
// "a/+/b", "+/x" covers "a/x"; "#" does not cover "$SYS/x" [MQTT-4.7.2-1]).
bool filter_covers(std::string_view outer, std::string_view inner) noexcept;

} // namespace thingport::mqtt
