// The property the parser fuzzer checks, shared with the g++ test that replays the corpus and
// the regression files (tests/unit/mqtt/fuzz_replay_test.cpp).
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace thingport::mqtt::fuzz {

// Feeds `input` through parse() the way a connection does (loop over batched packets until
// need_more or an error) and checks, for every packet decoded:
//  - it re-encodes to bytes that decode to an equal packet, consuming exactly those bytes;
//  - every strict prefix of those bytes gives need_more, with `needed` right once the fixed
//    header is known; a PUBLISH's size agrees with publish_size();
//  - the direction options and size limits only ever refuse it with the expected errors.
// Returns an empty string, or a description of the first violation.
std::string check_parser_input(std::span<const std::uint8_t> input);

} // namespace thingport::mqtt::fuzz
