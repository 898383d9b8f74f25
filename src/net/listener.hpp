// A listener: accepts on worker 0's thread and hands each socket to a worker, round robin. Plain
// TCP connections start at once; the other kinds go through the handshake (handshake.hpp) first.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "broker/broker.hpp"
#include "net/handshake.hpp"

namespace thingport::net {

// "host:port" (IPv4, "[v6]:port" or ":port") -> endpoint; throws std::invalid_argument.
boost::asio::ip::tcp::endpoint parse_endpoint(const std::string& text);

class listener {
public:
  // Binds and listens now (throws on failure); accepts once start() is called.
  // `proxy`: every connection starts with a PROXY header (v1 or v2) naming the client.
  listener(broker::broker& b, const boost::asio::ip::tcp::endpoint& ep, listener_kind kind,
           std::shared_ptr<const transport_options> opts, bool proxy = false);
  ~listener();
  void start();
  void stop(); // any thread
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  listener_kind kind() const noexcept { return kind_; }
  bool proxy() const noexcept { return proxy_; }

private:
  void do_accept();

  broker::broker& broker_;
  listener_kind kind_;
  bool proxy_;
  std::shared_ptr<const transport_options> opts_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
};

} // namespace thingport::net
