// One client connection over TCP, TLS, WebSocket or WSS: a closed set of stream types in a
// variant (no virtual call per read). Used only on the client's strand: one read and one write
// may be outstanding at a time; close() aborts both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "mqtt/packet.hpp"
#include "mqtt/parser.hpp"
#include "thingport/device/url.hpp"

namespace thingport::device::detail {

class transport {
public:
  // `tls` is required for tls and wss URLs.
  transport(boost::asio::any_io_executor ex, std::shared_ptr<boost::asio::ssl::context> tls);

  // Resolves, connects, and does the TLS handshake and the WebSocket upgrade (subprotocol mqtt).
  boost::asio::awaitable<std::error_code> open(const server_url& url);
  boost::asio::awaitable<std::pair<std::error_code, std::size_t>>
  read_some(boost::asio::mutable_buffer b);
  boost::asio::awaitable<std::error_code> write(boost::asio::const_buffer b);
  // Closes the socket under every layer: pending operations complete with an error. Idempotent.
  void close() noexcept;
  bool is_open() const noexcept { return open_; }

  using tcp_socket = boost::asio::ip::tcp::socket;
  using tls_stream = boost::asio::ssl::stream<tcp_socket>;
  using ws_stream = boost::beast::websocket::stream<boost::beast::tcp_stream>;
  using wss_stream =
      boost::beast::websocket::stream<boost::beast::ssl_stream<boost::beast::tcp_stream>>;

private:
  boost::asio::any_io_executor ex_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::variant<std::monostate, tcp_socket, tls_stream, ws_stream, wss_stream> stream_;
  bool open_ = true; // false after close(): open() refuses to start
};

// What a link has read and not yet consumed: parse unread(), consume() what was decoded, fill()
// for more. Views into unread() (a decoded PUBLISH) stay valid until the next fill() or clear().
class read_buffer {
public:
  std::span<const std::uint8_t> unread() const noexcept {
    return {reinterpret_cast<const std::uint8_t*>(buf_.data()) + pos_, buf_.size() - pos_};
  }
  void consume(std::size_t n) noexcept { pos_ += n; }
  void clear() noexcept {
    buf_.clear();
    pos_ = 0;
  }
  // Reads once more from `link`; the peer's close (TCP or WebSocket) is errc::connection_closed.
  boost::asio::awaitable<std::error_code> fill(transport& link);
  // The next whole packet, reading from `link` as needed (its views live until the next fill()).
  boost::asio::awaitable<std::error_code> next(transport& link, const mqtt::parser_options& opts,
                                               mqtt::packet& p);

private:
  std::string buf_;
  std::size_t pos_ = 0;
};

// Opens `link` to `url`, sends `connect` and reads the CONNACK: a refusal is its
// connack_category() code, another first packet errc::unexpected_packet.
boost::asio::awaitable<std::error_code>
mqtt_handshake(transport& link, const server_url& url, const mqtt::connect_packet& connect,
               read_buffer& rbuf, const mqtt::parser_options& opts, bool& session_present);

// A client TLS context: TLS 1.2+, peer verification against `ca_file` (empty: system CAs).
// Throws std::runtime_error if the CA file cannot be loaded.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const std::string& ca_file,
                                                            bool verify_peer);

} // namespace thingport::device::detail
