// A fresh data dir gets a demo product and device, so that `thingport serve` prints something a
// user can connect with at once (README's first command).
#pragma once

#include <optional>
#include <string>

#include "app/config.hpp"
#include "platform/directory.hpp"

namespace thingport::app {

struct demo_device {
  std::string product_key, product_secret, device_name, device_secret;
};

// Creates product "demo" with device "demo-device" when the store has no product at all;
// returns the demo device when it exists (now or from an earlier start), else nullopt.
// Throws std::runtime_error when the store fails.
std::optional<demo_device> ensure_demo_device(platform::directory& dir);

// Prints the triplet and a ready mosquitto_pub line for `tcp_listen` (config listeners.tcp).
void print_demo(const demo_device& d, const config& c);

} // namespace thingport::app
