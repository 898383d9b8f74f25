#include "transport.hpp"

#include <stdexcept>
#include <string>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "mqtt/serializer.hpp"
#include "thingport/device/error.hpp"

namespace thingport::device::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
constexpr auto token = asio::as_tuple(asio::use_awaitable);

namespace {

// SNI for host names, and the name or address the certificate must carry.
std::error_code set_peer_name(SSL* ssl, const std::string& host, bool verify) {
  boost::system::error_code parse_ec;
  asio::ip::make_address(host, parse_ec);
  const bool is_address = !parse_ec;
  if (!is_address && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
    return {static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category()};
  }
  if (!verify)
    return {};
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  const int ok = is_address ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                            : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  if (ok != 1)
    return make_error_code(errc::invalid_argument);
  return {};
}

bool verifies(asio::ssl::context& ctx) {
  return SSL_CTX_get_verify_mode(ctx.native_handle()) != SSL_VERIFY_NONE;
}

std::string host_header(const server_url& u) {
  return u.host + ":" + std::to_string(u.port);
}

void websocket_options(auto& ws) {
  ws.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
    req.set(beast::http::field::sec_websocket_protocol, "mqtt");
  }));
  ws.read_message_max(8U * 1024U * 1024U);
  ws.binary(true);
}

template <class Stream>
asio::awaitable<std::pair<std::error_code, std::size_t>> read_from(Stream& s,
                                                                   asio::mutable_buffer b) {
  auto [ec, n] = co_await s.async_read_some(b, token);
  co_return std::pair<std::error_code, std::size_t>{ec, n};
}

template <class Stream> asio::awaitable<std::error_code> write_to(Stream& s, asio::const_buffer b) {
  if constexpr (requires { s.got_text(); }) { // a WebSocket stream: one binary message
    auto [ec, n] = co_await s.async_write(b, token);
    co_return ec;
  } else {
    auto [ec, n] = co_await asio::async_write(s, b, token);
    co_return ec;
  }
}

} // namespace

transport::transport(asio::any_io_executor ex, std::shared_ptr<asio::ssl::context> tls)
    : ex_(std::move(ex)), tls_(std::move(tls)) {}

asio::awaitable<std::error_code> transport::open(const server_url& url) {
  tcp::resolver resolver(ex_);
  auto [rec, endpoints] =
      co_await resolver.async_resolve(url.host, std::to_string(url.port), token);
  if (rec)
    co_return rec;
  if (!open_)
    co_return make_error_code(asio::error::operation_aborted);
  switch (url.kind) {
  case transport_kind::tcp: {
    auto& s = stream_.emplace<tcp_socket>(ex_);
    auto [ec, ep] = co_await asio::async_connect(s, endpoints, token);
    if (ec)
      co_return ec;
    boost::system::error_code ignored;
    s.set_option(tcp::no_delay(true), ignored);
    co_return std::error_code{};
  }
  case transport_kind::tls: {
    auto& s = stream_.emplace<tls_stream>(ex_, *tls_);
    auto [ec, ep] = co_await asio::async_connect(s.next_layer(), endpoints, token);
    if (ec)
      co_return ec;
    boost::system::error_code ignored;
    s.next_layer().set_option(tcp::no_delay(true), ignored);
    if (auto e = set_peer_name(s.native_handle(), url.host, verifies(*tls_)))
      co_return e;
    auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::client, token);
    co_return hec;
  }
  case transport_kind::ws: {
    auto& s = stream_.emplace<ws_stream>(ex_);
    auto [ec, ep] = co_await beast::get_lowest_layer(s).async_connect(endpoints, token);
    if (ec)
      co_return ec;
    beast::get_lowest_layer(s).expires_never();
    websocket_options(s);
    auto [hec] = co_await s.async_handshake(host_header(url), url.path, token);
    co_return hec;
  }
  case transport_kind::wss: {
    auto& s = stream_.emplace<wss_stream>(ex_, *tls_);
    auto [ec, ep] = co_await beast::get_lowest_layer(s).async_connect(endpoints, token);
    if (ec)
      co_return ec;
    beast::get_lowest_layer(s).expires_never();
    if (auto e = set_peer_name(s.next_layer().native_handle(), url.host, verifies(*tls_)))
      co_return e;
    auto [tec] = co_await s.next_layer().async_handshake(asio::ssl::stream_base::client, token);
    if (tec)
      co_return tec;
    websocket_options(s);
    auto [hec] = co_await s.async_handshake(host_header(url), url.path, token);
    co_return hec;
  }
  }
  co_return make_error_code(errc::invalid_argument);
}

asio::awaitable<std::pair<std::error_code, std::size_t>>
transport::read_some(asio::mutable_buffer b) {
  if (std::holds_alternative<std::monostate>(stream_) || !open_)
    co_return std::pair<std::error_code, std::size_t>{make_error_code(asio::error::not_connected),
                                                      0};
  co_return co_await std::visit(
      [b](auto& s) -> asio::awaitable<std::pair<std::error_code, std::size_t>> {
        if constexpr (std::is_same_v<std::decay_t<decltype(s)>, std::monostate>) {
          co_return std::pair<std::error_code, std::size_t>{
              make_error_code(asio::error::not_connected), 0};
        } else {
          co_return co_await read_from(s, b);
        }
      },
      stream_);
}

asio::awaitable<std::error_code> transport::write(asio::const_buffer b) {
  if (!open_)
    co_return make_error_code(asio::error::not_connected);
  co_return co_await std::visit(
      [b](auto& s) -> asio::awaitable<std::error_code> {
        if constexpr (std::is_same_v<std::decay_t<decltype(s)>, std::monostate>) {
          co_return make_error_code(asio::error::not_connected);
        } else {
          co_return co_await write_to(s, b);
        }
      },
      stream_);
}

void transport::close() noexcept {
  open_ = false;
  boost::system::error_code ignored;
  std::visit(
      [&ignored](auto& s) {
        using S = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<S, tcp_socket>) {
          s.close(ignored);
        } else if constexpr (std::is_same_v<S, tls_stream>) {
          s.next_layer().close(ignored);
        } else if constexpr (!std::is_same_v<S, std::monostate>) {
          beast::get_lowest_layer(s).socket().close(ignored);
        }
      },
      stream_);
}

std::shared_ptr<asio::ssl::context> make_tls_context(const std::string& ca_file, bool verify_peer) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  if (ca_file.empty()) {
    ctx->set_default_verify_paths(ec);
  } else {
    ctx->load_verify_file(ca_file, ec);
  }
  if (ec && verify_peer) {
    throw std::runtime_error("cannot load CA certificates" +
                             (ca_file.empty() ? std::string() : " from " + ca_file) + ": " +
                             ec.message());
  }
  ctx->set_verify_mode(verify_peer ? asio::ssl::verify_peer : asio::ssl::verify_none);
  return ctx;
}

asio::awaitable<std::error_code> read_buffer::fill(transport& link) {
  if (pos_ > 0) { // consumed packets leave; their views are dead by now
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  const std::size_t old = buf_.size();
  buf_.resize(old + 4096);
  auto [ec, n] = co_await link.read_some(asio::buffer(buf_.data() + old, 4096));
  buf_.resize(old + n);
  if (ec == std::error_code(boost::system::error_code(asio::error::eof)) ||
      ec == std::error_code(boost::system::error_code(websocket::error::closed)))
    co_return make_error_code(errc::connection_closed);
  co_return ec;
}

asio::awaitable<std::error_code>
read_buffer::next(transport& link, const mqtt::parser_options& opts, mqtt::packet& p) {
  for (;;) {
    auto r = mqtt::parse(unread(), opts);
    if (r.state == mqtt::parse_result::status::error)
      co_return r.ec;
    if (r.state == mqtt::parse_result::status::packet) {
      consume(r.consumed);
      p = r.pkt;
      co_return std::error_code{};
    }
    if (auto ec = co_await fill(link))
      co_return ec;
  }
}

asio::awaitable<std::error_code> mqtt_handshake(transport& link, const server_url& url,
                                                const mqtt::connect_packet& connect,
                                                read_buffer& rbuf, const mqtt::parser_options& opts,
                                                bool& session_present) {
  if (auto ec = co_await link.open(url))
    co_return ec;
  std::string bytes;
  mqtt::encode(connect, bytes);
  if (auto ec = co_await link.write(asio::buffer(bytes)))
    co_return ec;
  mqtt::packet p;
  if (auto ec = co_await rbuf.next(link, opts, p))
    co_return ec;
  const auto* ack = std::get_if<mqtt::connack_packet>(&p);
  if (ack == nullptr)
    co_return make_error_code(errc::unexpected_packet);
  if (ack->code != mqtt::connack_code::accepted)
    co_return make_connack_error(static_cast<int>(ack->code));
  session_present = ack->session_present;
  co_return std::error_code{};
}

} // namespace thingport::device::detail
