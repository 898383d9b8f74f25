// TCP listener: accepts on one thread and hands each socket to a worker, round robin.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "broker/broker.hpp"

namespace thingport::net {

// "host:port" (IPv4, "[v6]:port" or ":port") -> endpoint; throws std::invalid_argument.
boost::asio::ip::tcp::endpoint parse_endpoint(const std::string& text);

class tcp_listener {
public:
  // Binds and listens now (throws on failure); accepts once start() is called.
  tcp_listener(broker::broker& b, const boost::asio::ip::tcp::endpoint& ep);
  ~tcp_listener();
  void start();
  void stop();  // any thread
  boost::asio::ip::tcp::endpoint local_endpoint() const;

private:
  void do_accept();

  broker::broker& broker_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
};

}  // namespace thingport::net
