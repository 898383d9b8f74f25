// MQTT topics and filters as NATS subjects (docs/cluster.md "Subjects"). Pure functions.
//
// A topic's levels become the tokens after `thingport.m.`. A level NATS cannot carry as a token
// (empty, or holding '.', '*', '>', '%', a space or any byte outside 0x21..0x7e) is written as
// '%' followed by the level with each such byte as %XX (two upper-case hex digits): "" -> "%",
// "a.b" -> "%a%2Eb". A token starting with '%' is always an escaped level, so the mapping
// reverses exactly.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace thingport::cluster {

inline constexpr std::string_view message_prefix = "thingport.m.";
// Retained messages go to every node (each keeps them), whatever it subscribes to.
inline constexpr std::string_view retained_prefix = "thingport.r.";
// Longer subjects are not sent (NATS's control line is 4 KiB by default).
inline constexpr std::size_t max_subject = 3000;

// The subject of a (valid) MQTT topic name (under retained_prefix when `retained`); nullopt when
// it would pass max_subject.
std::optional<std::string> subject_of_topic(std::string_view topic, bool retained = false);
// The topic of a subject made by subject_of_topic() (either prefix); nullopt for anything else.
std::optional<std::string> topic_of_subject(std::string_view subject);
// The subjects a node subscribes to for a (valid) MQTT filter: '+' -> '*', '#' -> '>', and a
// filter ending in "/#" also its parent ("a/#" matches "a"). Empty when a subject would pass
// max_subject. Over-matching is harmless: what arrives is matched against the local index.
std::vector<std::string> subjects_of_filter(std::string_view filter);

} // namespace thingport::cluster
