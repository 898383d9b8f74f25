// What the API works on. The references outlive the api::server that holds the context.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "platform/directory.hpp"
#include "platform/ota_service.hpp"
#include "platform/services.hpp"
#include "platform/thing_service.hpp"

namespace thingport::api {

// What the HTTP server refused, for /metrics. Written and read on the server's thread (the
// atomics let a test or another thread read them too).
struct http_stats {
  std::atomic<std::uint64_t> refused_max_connections{0}; // over server_options::max_connections
  std::atomic<std::uint64_t> refused_per_address{0};     // over max_connections_per_ip
  std::atomic<std::uint64_t> refused_unauthorized{0};    // 401 from the header, body unread
  std::atomic<std::uint64_t> refused_bad_target{0};      // 400: non-canonical or broken target
  std::atomic<std::uint64_t> refused_too_large{0};       // 413
};

// The cluster as the API shows it (docs/cluster.md); app/ wires the cluster layer behind it.
// Any thread.
class cluster_view {
public:
  struct member {
    std::string node;
    bool up = true;
    std::uint64_t connections = 0;
    std::uint64_t devices_online = 0;
    bool draining = false;
  };
  struct traffic {
    std::uint64_t out = 0, in = 0, dropped = 0, duplicates = 0, unconfirmed = 0;
    std::uint64_t retained_loaded = 0, retained_unkept = 0;
    std::uint64_t claims_late = 0; // session claims not answered by every node in time
    std::uint64_t taken_over = 0;  // sessions of nodes not running, taken over here
    std::uint64_t taken_over_messages = 0;
  };
  virtual ~cluster_view() = default;
  virtual std::vector<member> members() const = 0; // this node and its peers, sorted by name
  virtual traffic counts() const = 0;
  virtual bool linked() const = 0; // NATS reachable now
  // POST /api/v1/cluster/drain: refuse new logins, close this node's links `per_second` each
  // second. False: draining already.
  virtual bool drain(unsigned per_second) const = 0;
};

struct context {
  platform::services& platform;             // publishing, disconnecting, the core's statistics
  platform::directory& dir;                 // platform.devices()
  std::string token;                        // Bearer token for /api/v1/...; never empty
  std::function<bool()> healthy;            // GET /healthz; empty means healthy
  platform::thing_service* thing = nullptr; // platform.thing(); null: its endpoints answer 503
  std::shared_ptr<http_stats> http = std::make_shared<http_stats>();
  std::string node; // this server's name in GET /api/v1/cluster ([cluster] node, or the host's)
  std::shared_ptr<const cluster_view> cluster; // null: one node, no [cluster] nats
  platform::ota_service* ota = nullptr; // OTA firmware and jobs; null: those endpoints answer 503
};

} // namespace thingport::api
