// Replays the fuzzer's seed corpus and its saved crashers through the same checks the fuzzer
// makes, so a g++ ASan/UBSan CI run covers them without clang or libFuzzer.
#include <gtest/gtest.h>

#include "replay_files.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <vector>

#include "mqtt/parser.hpp"
#include "parser_roundtrip.hpp"

namespace thingport::mqtt {
namespace {

namespace fs = std::filesystem;

using thingport::fuzz::inputs_in;
using thingport::fuzz::read_file;

const fs::path fuzz_dir = THINGPORT_FUZZ_DIR;

TEST(MqttFuzzReplay, CorpusHoldsValidPacketsOfEveryType) {
  const auto files = inputs_in(fuzz_dir / "corpus");
  ASSERT_FALSE(files.empty()) << "no seed corpus in " << fuzz_dir / "corpus";
  std::set<packet_type> seen;
  for (const auto& f : files) {
    const auto bytes = read_file(f);
    std::span<const std::uint8_t> rest = bytes;
    // Seeds are whole valid packets (possibly several), nothing else.
    while (!rest.empty()) {
      const parse_result r = parse(rest);
      ASSERT_EQ(r.state, parse_result::status::packet) << f << ": " << r.ec.message();
      seen.insert(type_of(r.pkt));
      rest = rest.subspan(r.consumed);
    }
    EXPECT_EQ(fuzz::check_parser_input(bytes), "") << f;
  }
  EXPECT_EQ(seen.size(), 14u);
}

TEST(MqttFuzzReplay, Regressions) {
  for (const auto& f : inputs_in(fuzz_dir / "regressions"))
    EXPECT_EQ(fuzz::check_parser_input(read_file(f)), "") << f;
}

} // namespace
} // namespace thingport::mqtt
