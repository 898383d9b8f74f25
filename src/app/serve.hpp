#pragma once

#include "app/config.hpp"

namespace thingport::app {

// Runs the platform until SIGINT/SIGTERM. Returns the process exit code.
int serve(const config& c);

} // namespace thingport::app
