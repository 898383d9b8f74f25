// What the API works on. The references outlive the api::server that holds the context.
#pragma once

#include <functional>
#include <string>

#include "broker/broker.hpp"
#include "broker/directory.hpp"
#include "broker/thing_service.hpp"

namespace thingport::api {

struct context {
  broker::broker& broker;
  broker::directory& dir;
  std::string token;             // Bearer token for /api/v1/...; never empty
  std::function<bool()> healthy; // GET /healthz; empty means healthy
  broker::thing_service* thing = nullptr; // the thing layer; null: its endpoints answer 503
};

// The session key of a device's MQTT session (what broker::disconnect takes).
std::string device_session_key(std::string_view pk, std::string_view dn);

} // namespace thingport::api
