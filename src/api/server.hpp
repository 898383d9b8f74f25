// The HTTP/1.1 server of the API, metrics and console (Boost.Beast): one thread with its own
// io_context, keep-alive, and bounds on everything a client controls: header and body size,
// time to send a request and to read an answer, number of open connections in all and from one
// source address. The token is checked from the header: the body of a request without it is
// never read into memory. A request it
// cannot parse gets 400 (413 when the body is too large, 431 for the header) and the
// connection is closed; nothing a client sends can stop the server.
//
// Threads: construct, start() and stop() from one control thread (serve.cpp's main thread).
// Requests are handled on the server's own thread, one at a time; a handler may block on the
// store, which holds up the other HTTP clients only (never the broker).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <thread>

#include <boost/asio/ip/tcp.hpp>

#include "api/context.hpp"

namespace thingport::api {

struct server_options {
  std::size_t body_limit = 16 * 1024 * 1024; // a 50,000-device batch fits
  std::size_t header_limit = 16 * 1024;
  std::chrono::seconds read_timeout{30};   // to receive one whole request
  std::chrono::seconds write_timeout{60};  // to send one answer
  std::size_t max_connections = 256;       // more are closed at once
  std::size_t max_connections_per_ip = 64; // from one source address; more are closed at once
  std::size_t open_body_limit = 64 * 1024; // bodies of the endpoints that need no token
  std::size_t drain_limit = 1024 * 1024;   // unread body bytes dropped before closing a refusal
};

class server {
public:
  // Binds and listens now (throws boost::system::system_error on failure); serves once
  // start() is called.
  server(context ctx, const boost::asio::ip::tcp::endpoint& ep, server_options o = {});
  ~server(); // stop()
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  void start();
  // Closes the listener and every connection, then joins the thread. Idempotent.
  void stop();
  boost::asio::ip::tcp::endpoint local_endpoint() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
  std::thread thread_;
};

} // namespace thingport::api
