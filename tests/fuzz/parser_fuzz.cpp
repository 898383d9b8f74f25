// libFuzzer target: arbitrary bytes through the MQTT parser, every decoded packet round-tripped
// through the serializer (see parser_roundtrip.hpp for the properties checked).
#include <cstdio>
#include <cstdlib>

#include "parser_roundtrip.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string failure = thingport::mqtt::fuzz::check_parser_input({data, size});
  if (!failure.empty()) {
    std::fprintf(stderr, "fuzz_parser: %s\n", failure.c_str());
    std::abort();
  }
  return 0;
}
