// What the thing layer's fuzzers check on every input (tsl_fuzz.cpp, alink_fuzz.cpp), shared
// with the g++ replay test (tests/unit/thing/fuzz_replay_test.cpp) so that a CI run without
// clang covers the kept corpora and crashers too. Each returns "" when every property held, or
// what broke.
//
// TSL: parse_tsl() never crashes; a model it accepts keeps the input byte for byte, finds every
// identifier it lists, and check_value() of a fixed set of values against every data type in
// it either accepts (no code, a value) or refuses with a code and a "tsl parse: " message.
// Alink: the first byte picks a topic, the rest is the payload; handle() never crashes, every
// payload it publishes to the device or forwards is JSON (RRPC responses aside, which it never
// publishes), replies go to {topic}_reply, and a refused request stores nothing.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace thingport::thing::fuzz {

std::string check_tsl_input(std::span<const std::uint8_t> data);
std::string check_alink_input(std::span<const std::uint8_t> data);

} // namespace thingport::thing::fuzz
