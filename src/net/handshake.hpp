// Everything between accept and a running connection on the tls, ws, wss and auto listeners and
// on any listener behind a load balancer: the PROXY header, first-byte sniffing, the TLS
// handshake, the WebSocket upgrade. One coroutine per connection on its worker; the whole of it
// must finish within the connect timeout (10 s) or the socket is shut down. Plain TCP
// connections without a PROXY header skip it (listener.cpp starts them directly).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "broker/worker.hpp"
#include "net/tls.hpp"

namespace thingport::net {

enum class listener_kind : std::uint8_t { tcp, tls, ws, wss, auto_ };
std::string_view to_string(listener_kind k) noexcept; // "tcp" ... "auto"
// "1.2.3.4:5678" or "[::1]:5678": how addresses are written everywhere (logs, the status API).
std::string to_string(const boost::asio::ip::tcp::endpoint& ep);

// Shared, immutable after startup (the TLS store reloads itself): connections and handshakes
// hold a reference, so it outlives the listeners that made them.
struct transport_options {
  std::shared_ptr<tls_store> tls;      // null: TLS not configured (auto refuses TLS clients)
  std::vector<std::string> ws_origins; // allowed browser Origins; empty: any
};

// On w's thread: reads the PROXY header first when `proxy`, runs the handshake `kind` needs on
// `s`, then starts the connection.
void start_handshake(boost::asio::ip::tcp::socket s, broker::worker& w, listener_kind kind,
                     std::shared_ptr<const transport_options> opts, bool proxy);

// The peer's address as the broker keeps it ("ip:port" once printed).
broker::peer_address to_peer(const boost::asio::ip::tcp::endpoint& ep) noexcept;
// The peer of `s`, or an unknown address ("?") when the socket has none.
broker::peer_address remote_address(const boost::asio::ip::tcp::socket& s);

} // namespace thingport::net
