#include "broker/close_reason.hpp"

namespace thingport::broker {

std::string_view to_string(close_reason r) noexcept {
  switch (r) {
  case close_reason::none:
    return "none";
  case close_reason::client_disconnect:
    return "client_disconnect";
  case close_reason::peer_closed:
    return "peer_closed";
  case close_reason::io_error:
    return "io_error";
  case close_reason::protocol_error:
    return "protocol_error";
  case close_reason::malformed_packet:
    return "malformed_packet";
  case close_reason::payload_too_large:
    return "payload_too_large";
  case close_reason::connect_timeout:
    return "connect_timeout";
  case close_reason::keepalive_timeout:
    return "keepalive_timeout";
  case close_reason::auth_failed:
    return "auth_failed";
  case close_reason::taken_over:
    return "taken_over";
  case close_reason::slow_consumer:
    return "slow_consumer";
  case close_reason::topic_denied:
    return "topic_denied";
  case close_reason::server_shutdown:
    return "server_shutdown";
  case close_reason::kicked:
    return "kicked";
  case close_reason::registered:
    return "registered";
  case close_reason::store_failure:
    return "store_failure";
  case close_reason::session_limit:
    return "session_limit";
  case close_reason::handshake_failed:
    return "handshake_failed";
  case close_reason::proxy_refused:
    return "proxy_refused";
  case close_reason::cluster_unavailable:
    return "cluster_unavailable";
  case close_reason::draining:
    return "draining";
  case close_reason::taken_over_elsewhere:
    return "taken_over_elsewhere";
  case close_reason::count_:
    break;
  }
  return "unknown";
}

} // namespace thingport::broker
