#include "api/metrics.hpp"

#include <fmt/format.h>

#include "broker/broker.hpp"
#include "broker/log_limiter.hpp"
#include "store/session_writer.hpp"

namespace thingport::api {

namespace {

// Accepted minus closed, read apart from each other: a close may land between the two reads.
std::uint64_t open_of(std::uint64_t accepted, std::uint64_t closed) {
  return accepted > closed ? accepted - closed : 0;
}

} // namespace

std::uint64_t open_connections(context& ctx) {
  const auto& b = ctx.platform.core();
  const auto accepted = b.total(&broker::counters::connections);
  std::uint64_t closed = 0;
  for (std::size_t i = 0; i < static_cast<std::size_t>(broker::close_reason::count_); ++i)
    closed += b.total_closes(static_cast<broker::close_reason>(i));
  return open_of(accepted, closed);
}

metrics_snapshot take_snapshot(context& ctx) {
  const auto& b = ctx.platform.core();
  using broker::counters;
  metrics_snapshot s;
  s.accepted = b.total(&counters::connections);
  std::uint64_t closed = 0;
  for (std::size_t i = 0; i < s.closes.size(); ++i) {
    s.closes[i] = b.total_closes(static_cast<broker::close_reason>(i));
    closed += s.closes[i];
  }
  s.connections = open_of(s.accepted, closed);
  s.devices_online = ctx.dir.online_count();
  s.devices = ctx.dir.device_count();
  s.messages_in = b.total(&counters::publish_in);
  s.connects = b.total(&counters::connects);
  s.connect_refused = b.total(&counters::connect_refused);
  s.publish_denied = b.total(&counters::publish_denied);
  s.dropped_queue_full = b.total(&counters::dropped_queue_full);
  s.dropped_offline_qos0 = b.total(&counters::dropped_offline_qos0);
  s.dropped_expired = b.total(&counters::dropped_expired);
  s.dropped_disk_budget = b.total(&counters::dropped_disk_budget);
  for (std::size_t i = 0; i < s.refused_by_code.size(); ++i)
    s.refused_by_code[i] = b.total_refused(i);
  s.queued_bytes = b.queued_total();
  s.will_denied = b.total(&counters::will_denied);
  s.retain_denied = b.total(&counters::retain_denied);
  s.subscribe_denied = b.total(&counters::subscribe_denied);
  s.handoffs = b.total(&counters::handoffs);
  s.held = b.total(&counters::held);
  for (unsigned w = 0; w < b.worker_count(); ++w)
    s.parked += b.at(w).parked().size();
  s.retained = b.retained().size();
  s.retained_bytes = b.retained().bytes();
  s.retained_refused = b.retained().refused();
  s.log_suppressed = broker::log_lines_suppressed_total.load(std::memory_order_relaxed);
  s.sessions = b.sessions().live();
  s.subscriptions = b.index().size();
  if (const auto* w = b.writer()) {
    const auto& ws = w->stats();
    s.store_commits = ws.commits.load(std::memory_order_relaxed);
    s.store_ops = ws.ops.load(std::memory_order_relaxed);
    s.store_ops_cancelled = ws.cancelled.load(std::memory_order_relaxed);
    s.store_commit_failures = ws.failures.load(std::memory_order_relaxed);
    s.store_bytes = ws.used_bytes.load(std::memory_order_relaxed);
    s.store_backlog = ws.backlog.load(std::memory_order_relaxed);
  }
  if (ctx.thing != nullptr) {
    s.thing_handled = ctx.thing->handled();
    s.thing_dropped = ctx.thing->dropped();
    s.thing_store_failures = ctx.thing->store_failures();
    s.thing_properties_refused = ctx.thing->properties_refused();
  }
  if (ctx.cluster) {
    s.clustered = true;
    s.cluster_linked = ctx.cluster->linked();
    for (const auto& m : ctx.cluster->members())
      s.cluster_nodes_up += m.up ? 1 : 0;
    const auto t = ctx.cluster->counts();
    s.cluster_out = t.out;
    s.cluster_in = t.in;
    s.cluster_dropped = t.dropped;
    s.cluster_duplicates = t.duplicates;
    s.cluster_unconfirmed = t.unconfirmed;
    s.cluster_retained_loaded = t.retained_loaded;
    s.cluster_retained_unkept = t.retained_unkept;
    s.cluster_claims_late = t.claims_late;
    s.cluster_taken_over = t.taken_over;
    s.cluster_taken_over_messages = t.taken_over_messages;
    s.sessions_moved_in = b.total(&counters::sessions_moved_in);
    s.sessions_moved_out = b.total(&counters::sessions_moved_out);
  }
  if (const auto* gw = ctx.platform.gateways())
    s.subdevice_logins_refused = gw->logins_refused();
  if (ctx.ota != nullptr) {
    s.ota = true;
    s.ota_jobs_running = ctx.ota->jobs_running();
    s.ota_upgrade_messages = ctx.ota->sent();
    s.ota_download_bytes = ctx.ota->download_bytes();
    s.ota_blocks = ctx.ota->blocks_served();
    s.ota_block_bytes = ctx.ota->block_bytes();
    s.ota_blocks_dropped = ctx.ota->blocks_dropped();
    if (const auto* cfg = ctx.ota->config())
      s.config_replies_unforwarded = cfg->replies_unforwarded();
  }
  if (ctx.http) {
    const auto& h = *ctx.http;
    s.http_refused_max_connections = h.refused_max_connections.load();
    s.http_refused_per_address = h.refused_per_address.load();
    s.http_refused_unauthorized = h.refused_unauthorized.load();
    s.http_refused_bad_target = h.refused_bad_target.load();
    s.http_refused_too_large = h.refused_too_large.load();
  }
  return s;
}

namespace {

void metric(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            std::uint64_t value) {
  fmt::format_to(std::back_inserter(out), "# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help,
                 type, value);
}

} // namespace

std::string render_metrics(const metrics_snapshot& s) {
  std::string out;
  metric(out, "thingport_connections", "gauge", "Open MQTT connections.", s.connections);
  metric(out, "thingport_connections_parked", "gauge",
         "Idle plain-TCP connections parked off the I/O library (no input or output lately).",
         s.parked);
  metric(out, "thingport_connections_accepted_total", "counter", "MQTT sockets accepted.",
         s.accepted);
  metric(out, "thingport_devices_online", "gauge", "Devices connected now.", s.devices_online);
  metric(out, "thingport_devices", "gauge", "Devices registered.", s.devices);
  metric(out, "thingport_messages_in_total", "counter", "PUBLISH packets received from clients.",
         s.messages_in);
  metric(out, "thingport_connects_total", "counter", "CONNECTs accepted (CONNACK 0).", s.connects);
  metric(out, "thingport_connect_refused_total", "counter", "CONNECTs refused.", s.connect_refused);
  metric(out, "thingport_publish_denied_total", "counter",
         "PUBLISH packets refused by topic permissions.", s.publish_denied);
  out += "# HELP thingport_messages_dropped_total Messages not delivered, by reason.\n"
         "# TYPE thingport_messages_dropped_total counter\n";
  for (const auto& [reason, n] :
       {std::pair{"queue_full", s.dropped_queue_full},
        std::pair{"offline_qos0", s.dropped_offline_qos0}, std::pair{"expired", s.dropped_expired},
        std::pair{"disk_budget", s.dropped_disk_budget}})
    fmt::format_to(std::back_inserter(out),
                   "thingport_messages_dropped_total{{reason=\"{}\"}} {}\n", reason, n);
  out += "# HELP thingport_closes_total Connections closed, by reason.\n"
         "# TYPE thingport_closes_total counter\n";
  for (std::size_t i = 0; i < s.closes.size(); ++i)
    fmt::format_to(std::back_inserter(out), "thingport_closes_total{{reason=\"{}\"}} {}\n",
                   broker::to_string(static_cast<broker::close_reason>(i)), s.closes[i]);
  metric(out, "thingport_sessions", "gauge", "Sessions (connected and persistent).", s.sessions);
  metric(out, "thingport_subscriptions", "gauge", "Subscriptions (filter, session pairs).",
         s.subscriptions);
  metric(out, "thingport_session_store_commits_total", "counter",
         "Commits of the persistent session store.", s.store_commits);
  metric(out, "thingport_session_store_operations_total", "counter",
         "Session store operations submitted (message, entry, subscription, session writes).",
         s.store_ops);
  metric(out, "thingport_session_store_operations_cancelled_total", "counter",
         "Of them, not applied: an entry put and deleted again within one commit (a message "
         "delivered and acknowledged meanwhile), its state changes and its message.",
         s.store_ops_cancelled);
  metric(out, "thingport_session_store_commit_failures_total", "counter",
         "Session store commits that failed (nothing they covered was acknowledged).",
         s.store_commit_failures);
  metric(out, "thingport_session_store_bytes", "gauge",
         "Bytes the session store uses ([store] disk_budget applies to this).", s.store_bytes);
  metric(out, "thingport_session_store_backlog", "gauge",
         "Session store operations submitted and not yet committed.", s.store_backlog);
  metric(out, "thingport_thing_messages_total", "counter",
         "Device messages on thing topics handled by the thing layer.", s.thing_handled);
  metric(out, "thingport_thing_dropped_total", "counter",
         "Device messages on thing topics dropped (the thing queue was full).", s.thing_dropped);
  metric(out, "thingport_thing_store_failures_total", "counter",
         "Thing store writes that failed (the device was answered 500).", s.thing_store_failures);
  out += "# HELP thingport_connect_refused_by_code_total CONNECTs refused, by CONNACK code (4: bad "
         "username or password or unknown identity, 5: not authorized, failed-login limit).\n"
         "# TYPE thingport_connect_refused_by_code_total counter\n";
  for (std::size_t i = 1; i < s.refused_by_code.size(); ++i)
    fmt::format_to(std::back_inserter(out),
                   "thingport_connect_refused_by_code_total{{code=\"{}\"}} {}\n", i,
                   s.refused_by_code[i]);
  metric(
      out, "thingport_offline_queued_bytes", "gauge",
      "Topic and payload bytes queued for sessions, all together ([limits] offline_total_bytes).",
      s.queued_bytes);
  metric(out, "thingport_thing_properties_refused_total", "counter",
         "Property posts refused: the device would pass [thing] max_properties identifiers.",
         s.thing_properties_refused);
  metric(out, "thingport_will_denied_total", "counter",
         "CONNECTs refused (CONNACK 5) for a will on a topic the client may not publish to.",
         s.will_denied);
  metric(out, "thingport_retain_denied_total", "counter",
         "Retained PUBLISHes and wills routed without being kept (not a retainable topic).",
         s.retain_denied);
  metric(out, "thingport_subscribe_denied_total", "counter", "SUBSCRIBE filters refused (0x80).",
         s.subscribe_denied);
  metric(out, "thingport_worker_handoffs_total", "counter",
         "Deliveries passed from the worker that routed a message to the worker holding the "
         "subscriber's session.",
         s.handoffs);
  metric(out, "thingport_messages_held_total", "counter",
         "QoS 1/2 messages queued past a connected subscriber's bound instead of dropped, their "
         "publishers' acknowledgements held until sent ([limits] overload).",
         s.held);
  metric(out, "thingport_retained_messages", "gauge", "Retained messages kept.", s.retained);
  metric(out, "thingport_retained_bytes", "gauge",
         "Topic and payload bytes of the retained messages ([limits] max_retained_bytes).",
         s.retained_bytes);
  metric(out, "thingport_retained_refused_total", "counter",
         "Retained messages not kept: the retained store was full.", s.retained_refused);
  metric(out, "thingport_log_lines_suppressed_total", "counter",
         "Log lines left out by the per-kind rate limits (summarized in the next line).",
         s.log_suppressed);
  metric(out, "thingport_subdevice_logins_refused_total", "counter",
         "Sub-device logins (combine/login, batch_login) refused with 429: past [limits] "
         "subdevice_logins_per_second of their gateway.",
         s.subdevice_logins_refused);
  out += "# HELP thingport_http_refused_total HTTP connections and requests refused, by reason.\n"
         "# TYPE thingport_http_refused_total counter\n";
  for (const auto& [reason, n] : {std::pair{"max_connections", s.http_refused_max_connections},
                                  std::pair{"per_address", s.http_refused_per_address},
                                  std::pair{"unauthorized", s.http_refused_unauthorized},
                                  std::pair{"bad_target", s.http_refused_bad_target},
                                  std::pair{"too_large", s.http_refused_too_large}})
    fmt::format_to(std::back_inserter(out), "thingport_http_refused_total{{reason=\"{}\"}} {}\n",
                   reason, n);
  if (s.ota) {
    metric(out, "thingport_ota_jobs_running", "gauge", "OTA jobs running (seen by the OTA thread).",
           s.ota_jobs_running);
    metric(out, "thingport_ota_upgrade_messages_total", "counter",
           "OTA upgrade messages and firmware/get answers with an upgrade sent.",
           s.ota_upgrade_messages);
    metric(out, "thingport_ota_download_bytes_total", "counter",
           "Firmware and configuration bytes sent over HTTP.", s.ota_download_bytes);
    metric(out, "thingport_ota_blocks_total", "counter",
           "Firmware blocks sent on thing/file/download_reply.", s.ota_blocks);
    metric(out, "thingport_ota_block_bytes_total", "counter", "Firmware bytes sent in MQTT blocks.",
           s.ota_block_bytes);
    metric(out, "thingport_ota_blocks_dropped_total", "counter",
           "Block requests dropped: past a device's block rate.", s.ota_blocks_dropped);
    if (s.clustered)
      metric(out, "thingport_config_replies_unforwarded_total", "counter",
             "Configuration push replies not handed to the other nodes: past the rate.",
             s.config_replies_unforwarded);
  }
  if (s.clustered) {
    metric(out, "thingport_cluster_linked", "gauge",
           "1 while this node reaches NATS (0: new logins are refused with CONNACK 3).",
           s.cluster_linked ? 1 : 0);
    metric(out, "thingport_cluster_nodes_up", "gauge", "Nodes heard within 5 s, this one included.",
           s.cluster_nodes_up);
    metric(out, "thingport_cluster_messages_out_total", "counter",
           "Messages accepted here and published to NATS for the other nodes.", s.cluster_out);
    metric(out, "thingport_cluster_messages_in_total", "counter",
           "Messages from other nodes (through NATS) routed to this node's subscribers.",
           s.cluster_in);
    metric(out, "thingport_cluster_messages_dropped_total", "counter",
           "Messages not published to NATS (link queue full, subject too long, NATS refused).",
           s.cluster_dropped);
    metric(out, "thingport_cluster_duplicates_total", "counter",
           "Messages that came twice through overlapping NATS subscriptions, routed once.",
           s.cluster_duplicates);
    metric(out, "thingport_cluster_subacks_unconfirmed_total", "counter",
           "SUBACKs sent before NATS confirmed the new interest (within 2 s, or NATS down).",
           s.cluster_unconfirmed);
    metric(out, "thingport_cluster_retained_loaded_total", "counter",
           "Retained messages read back from JetStream (at start and after each reconnection).",
           s.cluster_retained_loaded);
    metric(out, "thingport_cluster_retained_unkept_total", "counter",
           "Retained messages JetStream did not acknowledge (the nodes have them; a node started "
           "later does not).",
           s.cluster_retained_unkept);
    metric(out, "thingport_cluster_sessions_moved_in_total", "counter",
           "Persistent sessions taken from other nodes (their clients logged in here).",
           s.sessions_moved_in);
    metric(out, "thingport_cluster_sessions_moved_out_total", "counter",
           "Persistent sessions given to other nodes (their clients logged in there).",
           s.sessions_moved_out);
    metric(out, "thingport_cluster_session_claims_late_total", "counter",
           "Session claims not answered by every node up within 500 ms (the client went on; "
           "a session sent later is still added).",
           s.cluster_claims_late);
    metric(out, "thingport_cluster_sessions_taken_over_total", "counter",
           "Persistent sessions of nodes not running taken over here from PostgreSQL (their "
           "clients logged in here, or this node swept a dead node's).",
           s.cluster_taken_over);
    metric(out, "thingport_cluster_taken_over_messages_total", "counter",
           "Unacknowledged QoS 1/2 messages those sessions brought.",
           s.cluster_taken_over_messages);
  }
  return out;
}

} // namespace thingport::api
