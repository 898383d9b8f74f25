#include "net/handshake.hpp"

#include <sys/socket.h>

#include <chrono>
#include <exception>
#include <optional>
#include <span>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include "broker/broker.hpp"
#include "net/connection.hpp"
#include "net/proxy_header.hpp"
#include "net/sniff.hpp"
#include "net/ws_upgrade.hpp"

namespace thingport::net {

std::string_view to_string(listener_kind k) noexcept {
  switch (k) {
  case listener_kind::tcp:
    return "tcp";
  case listener_kind::tls:
    return "tls";
  case listener_kind::ws:
    return "ws";
  case listener_kind::wss:
    return "wss";
  case listener_kind::auto_:
    return "auto";
  }
  return "?";
}

broker::peer_address to_peer(const asio::ip::tcp::endpoint& ep) noexcept {
  const auto a = ep.address();
  return a.is_v4() ? broker::peer_address::v4(a.to_v4().to_bytes(), ep.port())
                   : broker::peer_address::v6(a.to_v6().to_bytes(), ep.port());
}

broker::peer_address remote_address(const asio::ip::tcp::socket& s) {
  boost::system::error_code ec;
  const auto ep = s.remote_endpoint(ec);
  if (ec)
    return {};
  return to_peer(ep);
}

std::string to_string(const asio::ip::tcp::endpoint& ep) {
  return to_peer(ep).to_string();
}

namespace {

namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::awaitable;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_upgrade_header = 8192; // request line and headers of an upgrade

// Past the connect timeout the socket is shut down, which fails whatever step is pending. Only
// the file descriptor is captured: the streams move from step to step.
class deadline {
public:
  deadline(asio::io_context& io, int fd, std::chrono::steady_clock::duration d) : timer_(io) {
    timer_.expires_after(d);
    timer_.async_wait([fd, live = live_](boost::system::error_code ec) {
      if (!ec && *live)
        ::shutdown(fd, SHUT_RDWR);
    });
  }
  ~deadline() { *live_ = false; } // the socket now belongs to a connection, or is closed
  deadline(const deadline&) = delete;
  deadline& operator=(const deadline&) = delete;

private:
  std::shared_ptr<bool> live_ = std::make_shared<bool>(true);
  asio::steady_timer timer_;
};

// One connection's way from accept to a running MQTT connection. A way that ends before the
// connection starts (a failed TLS handshake, a refused upgrade or PROXY header, the deadline) is
// counted as a close with `failure`, so accepted minus closed stays the number of open sockets.
struct pipeline {
  broker::worker& w;
  std::shared_ptr<const transport_options> opts;
  broker::peer_address remote;
  bool started = false;
  broker::close_reason failure = broker::close_reason::handshake_failed;

  ~pipeline() {
    if (!started)
      w.stats().closes[static_cast<std::size_t>(failure)].fetch_add(1, std::memory_order_relaxed);
  }
};

template <class Stream, class Tls = no_tls_context>
void run_connection(Stream s, pipeline& p, Tls tls = {},
                    std::span<const std::uint8_t> preload = {}) {
  p.started = true;
  auto c = connection<Stream>::make(std::move(s), p.w,
                                    broker::transport_info{broker::transport_kind::tcp, p.remote},
                                    std::move(tls));
  c->preload(preload);
  c->start();
}

// The first byte, left in the socket (MSG_PEEK) for whoever reads next.
awaitable<std::optional<std::uint8_t>> peek_first(tcp_stream& s) {
  boost::system::error_code ec;
  s.non_blocking(true, ec);
  for (;;) {
    auto [wec] = co_await s.async_wait(tcp_stream::wait_read, use_tuple);
    if (wec)
      co_return std::nullopt;
    std::uint8_t b = 0;
    const std::size_t n = s.receive(asio::buffer(&b, 1), tcp_stream::message_peek, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again)
      continue;
    if (ec || n == 0)
      co_return std::nullopt;
    co_return b;
  }
}

// The PROXY header in front of the client's bytes, taken off the socket and no byte more: what
// follows stays there for the TLS handshake, the sniffing or the connection. Every byte read is
// part of the header (they are peeked first, and only a header's own bytes are consumed).
awaitable<proxy_header_result> read_proxy_header(tcp_stream& s) {
  std::array<std::uint8_t, max_proxy_header> buf;
  std::size_t have = 0;
  boost::system::error_code ec;
  s.non_blocking(true, ec);
  for (;;) {
    auto [wec] = co_await s.async_wait(tcp_stream::wait_read, use_tuple);
    if (wec)
      co_return proxy_header_result{};
    const std::size_t n =
        s.receive(asio::buffer(buf.data() + have, buf.size() - have), tcp_stream::message_peek, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again)
      continue;
    if (ec || n == 0)
      co_return proxy_header_result{};
    auto r = parse_proxy_header({buf.data(), have + n});
    if (r.state == proxy_header_result::status::invalid)
      co_return r;
    // Take what belongs to the header: all that was peeked, or up to its end.
    const std::size_t take = r.state == proxy_header_result::status::complete ? r.length - have : n;
    const std::size_t got = s.receive(asio::buffer(buf.data() + have, take), 0, ec);
    if (ec || got != take)
      co_return proxy_header_result{};
    have += got;
    if (r.state == proxy_header_result::status::complete)
      co_return r;
  }
}

template <class Next>
awaitable<void> refuse_upgrade(Next& next, const pipeline& p, http::status status, unsigned version,
                               std::string_view why) {
  spdlog::debug("websocket upgrade from {} refused: {}", p.remote, why);
  http::response<http::string_body> res{status, version};
  res.set(http::field::server, "thingport");
  res.set(http::field::content_type, "text/plain");
  res.keep_alive(false);
  res.body() = std::string(why) + "\n";
  res.prepare_payload();
  co_await http::async_write(next, res, use_tuple);
}

// Reads the upgrade request (what `buf` holds already comes first), checks it and answers 101
// with the subprotocol the client offered; then the connection runs.
template <class WsStream, class Tls = no_tls_context>
awaitable<void> upgrade(WsStream ws, beast::flat_buffer buf, pipeline& p, Tls tls = {}) {
  http::request_parser<http::empty_body> parser;
  parser.header_limit(max_upgrade_header);
  auto [ec, n] = co_await http::async_read(ws.next_layer(), buf, parser, use_tuple);
  if (ec) {
    spdlog::debug("websocket upgrade from {}: {}", p.remote, ec.message());
    co_return;
  }
  const auto& req = parser.get();
  if (!websocket::is_upgrade(req)) {
    co_await refuse_upgrade(ws.next_layer(), p, http::status::bad_request, req.version(),
                            "this port speaks MQTT over WebSocket only");
    co_return;
  }
  std::string offered; // the header may come several times
  const auto [from, to] = req.equal_range(http::field::sec_websocket_protocol);
  for (auto f = from; f != to; ++f) {
    if (!offered.empty())
      offered += ',';
    offered.append(f->value());
  }
  const auto proto = pick_subprotocol(offered);
  if (!proto) {
    co_await refuse_upgrade(ws.next_layer(), p, http::status::bad_request, req.version(),
                            "subprotocol mqtt or mqttv3.1 required");
    co_return;
  }
  if (!origin_allowed(req[http::field::origin], p.opts->ws_origins)) {
    co_await refuse_upgrade(ws.next_layer(), p, http::status::forbidden, req.version(),
                            "origin not allowed");
    co_return;
  }
  // A client must wait for the 101 before sending frames (RFC 6455 §4.1).
  if (buf.size() != 0)
    co_return;

  ws.set_option(websocket::stream_base::decorator(
      [chosen = std::string(*proto)](websocket::response_type& res) {
        res.set(http::field::sec_websocket_protocol, chosen);
        res.set(http::field::server, "thingport");
      }));
  websocket::stream_base::timeout t{};
  t.handshake_timeout = std::chrono::seconds(2); // bounds the closing handshake too
  t.idle_timeout = websocket::stream_base::none();
  t.keep_alive_pings = false; // keepalive is MQTT's business
  ws.set_option(t);
  const auto& o = p.w.owner().opts();
  ws.read_message_max(o.max_payload + 65536 + 4 + 5); // the largest packet the client takes
  ws.auto_fragment(false);
  ws.binary(true);
  auto [aec] = co_await ws.async_accept(req, use_tuple);
  if (aec) {
    spdlog::debug("websocket accept from {}: {}", p.remote, aec.message());
    co_return;
  }
  run_connection(std::move(ws), p, std::move(tls));
}

// TLS, then by `kind`: MQTT (tls), a WebSocket upgrade (wss), or whichever the client starts
// with (auto).
awaitable<void> over_tls(tcp_stream s, pipeline& p, listener_kind kind) {
  auto ctx = p.opts->tls->current();
  tls_stream ts(std::move(s), *ctx);
  auto [ec] = co_await ts.async_handshake(asio::ssl::stream_base::server, use_tuple);
  if (ec) {
    spdlog::debug("tls handshake from {}: {}", p.remote, ec.message());
    co_return;
  }
  if (kind == listener_kind::tls)
    co_return run_connection(std::move(ts), p, std::move(ctx));
  beast::flat_buffer buf(max_upgrade_header);
  if (kind == listener_kind::auto_) {
    auto [rec, n] = co_await ts.async_read_some(buf.prepare(512), use_tuple);
    if (rec || n == 0)
      co_return;
    buf.commit(n);
    const std::span<const std::uint8_t> first(static_cast<const std::uint8_t*>(buf.data().data()),
                                              buf.size());
    const sniffed what = sniff_inside_tls(first[0]);
    if (what == sniffed::mqtt)
      co_return run_connection(std::move(ts), p, std::move(ctx), first);
    if (what != sniffed::http) {
      spdlog::debug("auto listener: {} sent 0x{:02x} inside TLS: closed", p.remote, first[0]);
      co_return;
    }
  }
  co_await upgrade(wss_stream(std::move(ts)), std::move(buf), p, std::move(ctx));
}

awaitable<void> handshake(tcp_stream s, broker::worker& w, listener_kind kind,
                          std::shared_ptr<const transport_options> opts, bool proxy) {
  pipeline p{w, std::move(opts), remote_address(s)};
  const deadline dl(w.io(), s.native_handle(), w.owner().opts().connect_timeout);
  if (proxy) {
    const auto h = co_await read_proxy_header(s);
    if (h.state != proxy_header_result::status::complete) {
      p.failure = broker::close_reason::proxy_refused;
      if (h.state == proxy_header_result::status::invalid)
        spdlog::debug("{} listener: {} from {}: closed", to_string(kind), h.error, p.remote);
      co_return;
    }
    if (h.source)
      p.remote = to_peer(*h.source);
  }
  if (kind == listener_kind::auto_) {
    const auto first = co_await peek_first(s);
    if (!first)
      co_return;
    switch (sniff(*first)) {
    case sniffed::mqtt:
      co_return run_connection(std::move(s), p);
    case sniffed::http:
      kind = listener_kind::ws;
      break;
    case sniffed::tls:
      if (p.opts->tls)
        break;
      spdlog::debug("auto listener: TLS from {} but no [tls] cert configured: closed", p.remote);
      co_return;
    case sniffed::unknown:
      spdlog::debug("auto listener: {} sent 0x{:02x}: closed", p.remote, *first);
      co_return;
    }
  }
  if (kind == listener_kind::tcp)
    co_return run_connection(std::move(s), p);
  if (kind == listener_kind::ws)
    co_return co_await upgrade(ws_stream(std::move(s)), beast::flat_buffer(max_upgrade_header), p);
  co_await over_tls(std::move(s), p, kind);
}

} // namespace

void start_handshake(asio::ip::tcp::socket s, broker::worker& w, listener_kind kind,
                     std::shared_ptr<const transport_options> opts, bool proxy) {
  asio::co_spawn(w.io(), handshake(std::move(s), w, kind, std::move(opts), proxy),
                 [](const std::exception_ptr& e) {
                   if (!e)
                     return;
                   try {
                     std::rethrow_exception(e);
                   } catch (const std::exception& ex) {
                     spdlog::error("connection handshake: {}", ex.what());
                   }
                 });
}

} // namespace thingport::net
