// libFuzzer target: one byte choosing a thing topic, then arbitrary bytes as the payload, through
// thing::handle(); see thing_checks.hpp for the properties checked.
#include <cstdio>
#include <cstdlib>

#include "thing_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string failure = thingport::thing::fuzz::check_alink_input({data, size});
  if (!failure.empty()) {
    std::fprintf(stderr, "fuzz_alink: %s\n", failure.c_str());
    std::abort();
  }
  return 0;
}
