#include "net/listener.hpp"

#include <sstream>
#include <stdexcept>

#include <charconv>
#include <stdexcept>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "net/connection.hpp"

namespace thingport::net {

namespace asio = boost::asio;
using asio::ip::tcp;

tcp::endpoint parse_endpoint(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos)
    throw std::invalid_argument("expected host:port, got '" + text + "'");
  std::string host = text.substr(0, colon);
  const std::string port_s = text.substr(colon + 1);
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_s.data(), port_s.data() + port_s.size(), port);
  if (ec != std::errc{} || p != port_s.data() + port_s.size() || port > 65535)
    throw std::invalid_argument("bad port in '" + text + "'");
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty())
    host = "0.0.0.0";
  boost::system::error_code aec;
  auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, aec);
  if (aec)
    throw std::invalid_argument("bad address in '" + text + "'");
  return {addr, static_cast<unsigned short>(port)};
}

listener::listener(broker::broker& b, const tcp::endpoint& ep, listener_kind kind,
                   std::shared_ptr<const transport_options> opts, bool proxy)
    : broker_(b), kind_(kind), proxy_(proxy), opts_(std::move(opts)), acceptor_(b.at(0).io()),
      backoff_(b.at(0).io()) {
  boost::system::error_code ec;
  acceptor_.open(ep.protocol(), ec);
  if (!ec)
    acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec)
    acceptor_.bind(ep, ec);
  if (!ec)
    acceptor_.listen(65535, ec); // the kernel caps it at net.core.somaxconn
  if (ec) {
    // Say which listener and address: "address in use" alone names neither.
    std::ostringstream where;
    where << ep;
    throw std::runtime_error("cannot listen for " + std::string(to_string(kind)) + " on " +
                             where.str() + ": " + ec.message());
  }
}

listener::~listener() = default;

void listener::start() {
  asio::post(acceptor_.get_executor(), [this] { do_accept(); });
}

void listener::stop() {
  asio::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
    backoff_.cancel();
  });
}

tcp::endpoint listener::local_endpoint() const {
  return acceptor_.local_endpoint();
}

void listener::do_accept() {
  broker::worker& w = broker_.pick();
  acceptor_.async_accept(w.io(), [this, &w](boost::system::error_code ec, plain_tcp_stream s) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open())
      return;
    if (!ec) {
      w.stats().connections.fetch_add(1, std::memory_order_relaxed);
      if (kind_ == listener_kind::tcp && !proxy_) {
        asio::post(w.io(), [&w, s = std::move(s)]() mutable {
          boost::system::error_code rec;
          const auto peer = s.remote_endpoint(rec);
          broker::transport_info info{broker::transport_kind::tcp,
                                      rec ? broker::peer_address() : to_peer(peer)};
          connection<plain_tcp_stream>::make(std::move(s), w, std::move(info))->start();
        });
      } else {
        asio::post(w.io(),
                   [&w, kind = kind_, opts = opts_, proxy = proxy_, s = std::move(s)]() mutable {
                     start_handshake(tcp::socket(std::move(s)), w, kind, std::move(opts), proxy);
                   });
      }
    } else {
      // EMFILE and friends: log, wait a little (no busy loop), go on; the backlog holds the rest.
      spdlog::warn("accept: {}", ec.message());
      backoff_.expires_after(std::chrono::milliseconds(50));
      backoff_.async_wait([this](boost::system::error_code wec) {
        if (!wec && acceptor_.is_open())
          do_accept();
      });
      return;
    }
    do_accept();
  });
}

} // namespace thingport::net
