// A transport for unit tests that drive a broker::client without a socket: every call does
// nothing; a test derives from it to count what it asserts on. Never put on a deadline wheel.
#pragma once

#include <chrono>

#include "broker/client.hpp"

namespace thingport::broker::test {

struct null_transport : transport {
  void wake() override {}
  void shutdown() override {}
  void resume_reading() override {}
  void expire(std::chrono::steady_clock::time_point) override {}
  void dropped() override {}
};

} // namespace thingport::broker::test
