// Replays fuzz_proxy's seed corpus and saved crashers through the fuzzer's own checks
// (tests/fuzz/proxy_checks.hpp), so the g++ ASan/UBSan run covers them without clang.
#include <gtest/gtest.h>

#include "replay_files.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "proxy_checks.hpp"

namespace thingport::net {
namespace {

namespace fs = std::filesystem;

using thingport::fuzz::inputs_in;
using thingport::fuzz::read_file;

TEST(ProxyFuzzReplay, CorpusAndRegressions) {
  const fs::path dir = THINGPORT_FUZZ_DIR;
  const auto corpus = inputs_in(dir / "corpus_proxy");
  ASSERT_GE(corpus.size(), 6u);
  for (const auto& f : corpus)
    EXPECT_EQ(fuzz::check_proxy_input(read_file(f)), "") << f;
  for (const auto& f : inputs_in(dir / "regressions_proxy"))
    EXPECT_EQ(fuzz::check_proxy_input(read_file(f)), "") << f;
}

} // namespace
} // namespace thingport::net
