// Replays the thing fuzzers' seed corpora and saved crashers through the same checks the fuzzers
// make (tests/fuzz/thing_checks.hpp), so a g++ ASan/UBSan CI run covers them without clang.
#include <gtest/gtest.h>

#include "replay_files.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "thing_checks.hpp"

namespace thingport::thing::test {

namespace {

namespace fs = std::filesystem;

const fs::path fuzz_dir = THINGPORT_FUZZ_DIR;

using thingport::fuzz::inputs_in;
using thingport::fuzz::read_file;

} // namespace

TEST(ThingFuzzReplay, TslCorpus) {
  const auto files = inputs_in(fuzz_dir / "corpus_tsl");
  ASSERT_FALSE(files.empty());
  for (const auto& f : files) {
    EXPECT_EQ(fuzz::check_tsl_input(read_file(f)), "") << f;
  }
}

TEST(ThingFuzzReplay, AlinkCorpus) {
  const auto files = inputs_in(fuzz_dir / "corpus_alink");
  ASSERT_FALSE(files.empty());
  for (const auto& f : files) {
    EXPECT_EQ(fuzz::check_alink_input(read_file(f)), "") << f;
  }
}

TEST(ThingFuzzReplay, Regressions) {
  for (const auto& f : inputs_in(fuzz_dir / "regressions_thing")) {
    const std::string name = f.filename().string();
    const auto bytes = read_file(f);
    if (!name.starts_with("alink-")) {
      EXPECT_EQ(fuzz::check_tsl_input(bytes), "") << f;
    }
    if (!name.starts_with("tsl-")) {
      EXPECT_EQ(fuzz::check_alink_input(bytes), "") << f;
    }
  }
}

} // namespace thingport::thing::test
