// Why a connection closed. Every close records one; it is logged, counted and shown by the
// device status API.
#pragma once

#include <cstdint>
#include <string_view>

namespace thingport::broker {

enum class close_reason : std::uint8_t {
  none = 0,
  client_disconnect, // DISCONNECT received
  peer_closed,       // EOF or reset without DISCONNECT
  io_error,
  protocol_error,   // well-formed packet the protocol does not allow here
  malformed_packet, // the decoder refused the bytes
  payload_too_large,
  connect_timeout, // no CONNECT in time
  keepalive_timeout,
  auth_failed,   // CONNACK refusal sent
  taken_over,    // same client/session connected again
  slow_consumer, // outbound bytes over the bound
  topic_denied,  // PUBLISH refused by permissions where that closes the link
  server_shutdown,
  kicked,           // closed by an operator (device disabled/deleted)
  registered,       // a dynamic-registration link, closed after its answer
  store_failure,    // the session store could not commit what this client's ack needed
  session_limit,    // its credential has as many persistent sessions as it may keep
  handshake_failed, // closed before MQTT began: TLS, the WebSocket upgrade, an unknown first byte
  proxy_refused,    // no valid PROXY header on a listener that requires one
  cluster_unavailable,  // a login refused (CONNACK 3) while the cluster link is down
  draining,             // closed by `thingport node drain` (the node is leaving the cluster)
  taken_over_elsewhere, // same client/session logged in on another cluster node
  count_
};

std::string_view to_string(close_reason r) noexcept;

} // namespace thingport::broker
