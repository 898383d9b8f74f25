// libFuzzer target for the PROXY header parser (src/net/proxy_header.cpp).
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "proxy_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto why = thingport::net::fuzz::check_proxy_input({data, size});
  if (!why.empty()) {
    std::fprintf(stderr, "fuzz_proxy: %s\n", why.c_str());
    std::abort();
  }
  return 0;
}
