// GET /metrics: Prometheus text exposition format 0.0.4. The snapshot is read from the broker's
// per-worker counters and the directory (statistics, not one consistent instant); rendering is
// pure. Any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "api/context.hpp"
#include "broker/close_reason.hpp"

namespace thingport::api {

struct metrics_snapshot {
  std::uint64_t connections = 0; // open MQTT connections (accepted minus closed)
  std::uint64_t parked = 0;      // idle plain-TCP links off Asio (broker/park_set.hpp)
  std::uint64_t accepted = 0;    // sockets accepted since start
  std::uint64_t devices_online = 0;
  std::uint64_t devices = 0;
  std::uint64_t messages_in = 0;
  std::uint64_t connects = 0;
  std::uint64_t connect_refused = 0;
  std::uint64_t publish_denied = 0;
  std::uint64_t dropped_queue_full = 0;
  std::uint64_t dropped_offline_qos0 = 0;
  std::uint64_t dropped_expired = 0;
  std::uint64_t dropped_disk_budget = 0;
  std::uint64_t sessions = 0;
  std::uint64_t subscriptions = 0;
  // the session store's writer (zero without one)
  std::uint64_t store_commits = 0;
  std::uint64_t store_ops = 0;
  std::uint64_t store_ops_cancelled = 0;
  std::uint64_t store_commit_failures = 0;
  std::uint64_t store_bytes = 0;
  std::uint64_t store_backlog = 0;
  // the thing layer (zero without one)
  std::uint64_t thing_handled = 0;
  std::uint64_t thing_dropped = 0;
  std::uint64_t thing_store_failures = 0;
  std::uint64_t thing_properties_refused = 0;
  std::uint64_t subdevice_logins_refused = 0; // over [limits] subdevice_logins_per_second
  std::array<std::uint64_t, 6> refused_by_code{};
  std::uint64_t queued_bytes = 0;
  std::uint64_t will_denied = 0;
  std::uint64_t retain_denied = 0;
  std::uint64_t subscribe_denied = 0;
  std::uint64_t handoffs = 0;
  std::uint64_t held = 0;
  std::uint64_t retained = 0;
  std::uint64_t retained_bytes = 0;
  std::uint64_t retained_refused = 0;
  std::uint64_t log_suppressed = 0;
  std::uint64_t http_refused_max_connections = 0;
  std::uint64_t http_refused_per_address = 0;
  std::uint64_t http_refused_unauthorized = 0;
  std::uint64_t http_refused_bad_target = 0;
  std::uint64_t http_refused_too_large = 0;
  std::array<std::uint64_t, static_cast<std::size_t>(broker::close_reason::count_)> closes{};
  // [cluster] nats set (rendered only then)
  bool clustered = false;
  bool cluster_linked = false;
  std::uint64_t cluster_nodes_up = 0;
  std::uint64_t cluster_out = 0;
  std::uint64_t cluster_in = 0;
  std::uint64_t cluster_dropped = 0;
  std::uint64_t cluster_duplicates = 0;
  std::uint64_t cluster_unconfirmed = 0;
  std::uint64_t cluster_retained_loaded = 0;
  std::uint64_t cluster_retained_unkept = 0;
  std::uint64_t cluster_claims_late = 0;
  std::uint64_t cluster_taken_over = 0;
  std::uint64_t cluster_taken_over_messages = 0;
  std::uint64_t sessions_moved_in = 0;
  std::uint64_t sessions_moved_out = 0;
  bool ota = false; // OTA runs: the thingport_ota_* metrics
  std::uint64_t ota_jobs_running = 0, ota_upgrade_messages = 0, ota_download_bytes = 0;
  std::uint64_t ota_blocks = 0, ota_block_bytes = 0, ota_blocks_dropped = 0;
  std::uint64_t config_replies_unforwarded = 0;
};

metrics_snapshot take_snapshot(context& ctx);
// Open connections alone (accepted minus closed), without the rest of the snapshot.
std::uint64_t open_connections(context& ctx);
std::string render_metrics(const metrics_snapshot& s);

} // namespace thingport::api
