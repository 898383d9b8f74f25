// The listeners a server runs, made from its config (README.md): tcp, tls, ws, wss and auto,
// each on when its address is set; tls and wss also need a certificate and key. Owns the TLS
// store and reloads the certificate and key on SIGHUP (new handshakes use the new ones, existing
// connections are not touched). Made, started and stopped by the main thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/signal_set.hpp>

#include "broker/broker.hpp"
#include "net/handshake.hpp"
#include "net/listener.hpp"

namespace thingport::net {

struct listener_config {
  std::string tcp, tls, ws, wss, auto_; // "host:port"; empty: that listener is off
  std::string cert_file, key_file;      // PEM chain and key; both empty: no TLS
  std::vector<std::string> ws_origins;  // allowed browser Origins for ws/wss; empty: any
  // Listeners behind a load balancer that sends the PROXY header, by kind.
  bool proxy_tcp = false, proxy_tls = false, proxy_ws = false, proxy_wss = false,
       proxy_auto = false;
};

class listener_set {
public:
  // Loads the TLS material and binds every listener now. Throws std::exception (bad address,
  // port in use, unusable certificate or key, only one of cert and key given).
  listener_set(broker::broker& b, const listener_config& c);
  ~listener_set();
  listener_set(const listener_set&) = delete;
  listener_set& operator=(const listener_set&) = delete;

  // In config order (tcp, tls, ws, wss, auto); for announcing the bound ports.
  const std::vector<std::unique_ptr<listener>>& listeners() const noexcept { return listeners_; }
  void start();
  void stop(); // any thread

private:
  void await_hup();

  std::shared_ptr<transport_options> opts_;
  std::vector<std::unique_ptr<listener>> listeners_;
  boost::asio::signal_set hup_;
};

} // namespace thingport::net
