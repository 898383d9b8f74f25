#include "api/server.hpp"

#include <array>
#include <exception>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include "api/later.hpp"
#include "api/ota_transfer.hpp"
#include "api/service.hpp"

namespace thingport::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

struct server::impl {
  impl(context c, const tcp::endpoint& ep, server_options o)
      : ctx(std::move(c)), svc(ctx), opts(o), acceptor(io), backoff(io) {
    acceptor.open(ep.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen();
  }

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> session(tcp::socket s, asio::ip::address peer);
  asio::awaitable<bool> refuse(beast::tcp_stream& stream, const boost::system::error_code& ec,
                               std::size_t body_limit);
  asio::awaitable<void> refuse_early(beast::tcp_stream& stream, response res);
  asio::awaitable<void> drain(beast::tcp_stream& stream, std::size_t max_bytes,
                              std::chrono::seconds max_time);
  void close_all();

  context ctx;
  service svc;
  server_options opts;
  asio::io_context io{1};
  tcp::acceptor acceptor;
  asio::steady_timer backoff;
  std::unordered_set<beast::tcp_stream*> streams;                 // open connections, for stop()
  std::unordered_map<asio::ip::address, std::size_t> per_address; // open connections by source
  std::unordered_set<std::shared_ptr<reply_slot>> waiting;        // answers to come, for stop()
  bool stopping = false;
};

namespace {

void log_exception(std::exception_ptr e) {
  if (!e)
    return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    spdlog::error("http: unexpected exception: {}", x.what());
  } catch (...) {
    spdlog::error("http: unexpected exception");
  }
}

bool is_parse_error(const boost::system::error_code& ec) {
  return ec.category() == beast::http::make_error_code(beast::http::error::bad_method).category() &&
         ec != beast::http::error::end_of_stream && ec != beast::http::error::partial_message;
}

} // namespace

asio::awaitable<void> server::impl::accept_loop() {
  for (;;) {
    auto [ec, s] = co_await acceptor.async_accept(tuple_awaitable);
    if (stopping || !acceptor.is_open())
      co_return;
    if (ec) {
      // EMFILE and friends: wait a little rather than spin; the backlog holds the rest.
      spdlog::warn("http accept: {}", ec.message());
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(tuple_awaitable);
      continue;
    }
    boost::system::error_code ignored;
    const auto peer = s.remote_endpoint(ignored).address();
    if (streams.size() >= opts.max_connections) {
      ++ctx.http->refused_max_connections;
      s.close(ignored);
      continue;
    }
    if (per_address[peer] >= opts.max_connections_per_ip) {
      ++ctx.http->refused_per_address;
      s.close(ignored);
      continue;
    }
    ++per_address[peer];
    asio::co_spawn(io, session(std::move(s), peer), log_exception);
  }
}

// Reads (and drops) what the client is still sending, for a while and up to `max_bytes`, so
// that closing with unread data does not reset the connection before the client has read the
// answer. Nothing is kept: a fixed buffer is reused.
asio::awaitable<void> server::impl::drain(beast::tcp_stream& stream, std::size_t max_bytes,
                                          std::chrono::seconds max_time) {
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.expires_after(max_time);
  std::array<char, 16 * 1024> sink;
  for (std::size_t total = 0; total < max_bytes;) {
    auto [rec, rn] = co_await stream.async_read_some(asio::buffer(sink), tuple_awaitable);
    if (rec)
      break;
    total += rn;
  }
}

// Answers a request that could not be read with 400/413/431; returns false when the client
// just went away (nothing to answer).
asio::awaitable<bool> server::impl::refuse(beast::tcp_stream& stream,
                                           const boost::system::error_code& ec,
                                           std::size_t body_limit) {
  namespace http = beast::http;
  if (!is_parse_error(ec))
    co_return false;
  response res =
      ec == http::error::body_limit
          ? error_response(http::status::payload_too_large,
                           "body over " + std::to_string(body_limit) + " bytes")
      : ec == http::error::header_limit
          ? error_response(http::status::request_header_fields_too_large,
                           "header over " + std::to_string(opts.header_limit) + " bytes")
          : error_response(http::status::bad_request, "bad HTTP request: " + ec.message());
  if (ec == http::error::body_limit)
    ++ctx.http->refused_too_large;
  res.keep_alive(false);
  stream.expires_after(opts.write_timeout);
  auto [wec, wn] = co_await http::async_write(stream, res, tuple_awaitable);
  if (!wec && ec == http::error::body_limit) // a client with the right to send that much
    co_await drain(stream, 4 * body_limit, std::chrono::seconds(5));
  co_return true;
}

// Answers a request refused from its header (bad target, no token) and closes: its body is
// never read into memory.
asio::awaitable<void> server::impl::refuse_early(beast::tcp_stream& stream, response res) {
  namespace http = beast::http;
  if (res.result() == http::status::unauthorized)
    ++ctx.http->refused_unauthorized;
  else
    ++ctx.http->refused_bad_target;
  res.version(11);
  res.keep_alive(false);
  stream.expires_after(opts.write_timeout);
  auto [wec, wn] = co_await http::async_write(stream, res, tuple_awaitable);
  if (!wec)
    co_await drain(stream, opts.drain_limit, std::chrono::seconds(2));
}

asio::awaitable<void> server::impl::session(tcp::socket s, asio::ip::address peer) {
  namespace http = beast::http;
  beast::tcp_stream stream(std::move(s));
  streams.insert(&stream);
  struct untrack {
    impl& self;
    beast::tcp_stream* p;
    asio::ip::address peer;
    ~untrack() {
      self.streams.erase(p);
      if (auto it = self.per_address.find(peer); it != self.per_address.end() && --it->second == 0)
        self.per_address.erase(it);
    }
  } guard{*this, &stream, peer};
  beast::flat_buffer buffer;
  while (!stopping) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(opts.header_limit));
    // The body limit is checked once the header is in: an OTA firmware upload may be larger.
    parser.body_limit(boost::none);
    stream.expires_after(opts.read_timeout);
    auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, tuple_awaitable);
    if (hec) {
      co_await refuse(stream, hec, opts.body_limit);
      break;
    }
    // Decide on the header alone: a request without the token is refused before its body is
    // read, and the endpoints that need no token take only small bodies.
    auto admitted = svc.admit(parser.get());
    // Over the body limit: 413 before anything else, but for an OTA firmware upload (larger).
    if (const auto* to = std::get_if<target>(&admitted);
        parser.content_length() && *parser.content_length() > opts.body_limit &&
        !(to != nullptr && ota_stream_of(parser.get().method(), *to) == ota_stream::upload)) {
      co_await refuse(stream, http::error::body_limit, opts.body_limit);
      break;
    }
    if (auto* refused = std::get_if<response>(&admitted)) {
      co_await refuse_early(stream, std::move(*refused));
      break;
    }
    auto& t = std::get<target>(admitted);
    // OTA firmware uploads and downloads are streamed (ota_transfer.hpp), never held whole.
    if (const auto ota = ota_stream_of(parser.get().method(), t); ota != ota_stream::none) {
      if (!co_await serve_ota_stream(ctx, ota, stream, buffer, parser, t,
                                     {opts.read_timeout, opts.write_timeout}) ||
          stopping)
        break;
      continue;
    }
    parser.body_limit(opts.body_limit);
    if (!t.needs_token()) {
      if (parser.content_length() && *parser.content_length() > opts.open_body_limit) {
        co_await refuse(stream, http::error::body_limit, opts.open_body_limit);
        break;
      }
      parser.body_limit(opts.open_body_limit);
    }
    if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
      http::response<http::empty_body> cont{http::status::continue_, 11};
      auto [cec, cn] = co_await http::async_write(stream, cont, tuple_awaitable);
      if (cec)
        break;
    }
    auto [bec, bn] = co_await http::async_read(stream, buffer, parser, tuple_awaitable);
    if (bec) {
      co_await refuse(stream, bec, t.needs_token() ? opts.body_limit : opts.open_body_limit);
      break;
    }
    request req = parser.release();
    auto later = std::make_shared<reply_slot>(io);
    response res = svc.handle(req, std::move(t), later);
    if (later->deferred()) {
      waiting.insert(later);
      auto answer = co_await later->wait();
      waiting.erase(later);
      if (!answer)
        break; // stopping
      res = std::move(*answer);
    }
    res.version(req.version());
    res.keep_alive(req.keep_alive() && !stopping);
    stream.expires_after(opts.write_timeout);
    auto [wec, wn] = co_await http::async_write(stream, res, tuple_awaitable);
    if (wec || !res.keep_alive())
      break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.close();
}

void server::impl::close_all() {
  stopping = true;
  boost::system::error_code ignored;
  acceptor.close(ignored);
  backoff.cancel();
  for (auto* s : streams)
    s->socket().close(ignored);
  for (const auto& w : std::vector(waiting.begin(), waiting.end()))
    w->cancel();
}

server::server(context ctx, const tcp::endpoint& ep, server_options o)
    : impl_(std::make_unique<impl>(std::move(ctx), ep, o)) {}

server::~server() {
  stop();
}

void server::start() {
  if (thread_.joinable())
    return;
  asio::co_spawn(impl_->io, impl_->accept_loop(), log_exception);
  thread_ = std::thread([this] {
    for (;;) {
      try {
        impl_->io.run();
        break;
      } catch (const std::exception& e) {
        spdlog::error("http: unexpected exception: {}", e.what());
      }
    }
  });
}

void server::stop() {
  if (!thread_.joinable())
    return;
  asio::post(impl_->io, [this] { impl_->close_all(); });
  thread_.join();
}

tcp::endpoint server::local_endpoint() const {
  return impl_->acceptor.local_endpoint();
}

} // namespace thingport::api
