// What must hold for any bytes given to the PROXY header parser; shared by fuzz_proxy and the
// replay test (tests/unit/net/proxy_replay_test.cpp).
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace thingport::net::fuzz {

// "" when every check holds, else what failed.
std::string check_proxy_input(std::span<const std::uint8_t> data);

} // namespace thingport::net::fuzz
