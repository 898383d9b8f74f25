// What the API works on. The references outlive the api::server that holds the context.
#pragma once

#include <functional>
#include <string>

#include "broker/broker.hpp"
#include "broker/directory.hpp"

namespace thingport::api {

struct context {
  broker::broker& broker;
  broker::directory& dir;
  std::string token;             // Bearer token for /api/v1/...; never empty
  std::function<bool()> healthy; // GET /healthz; empty means healthy
};

// The session key of a device's MQTT session (what broker::disconnect takes).
std::string device_session_key(std::string_view pk, std::string_view dn);

} // namespace thingport::api
