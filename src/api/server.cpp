#include "api/server.hpp"

#include <exception>
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
  asio::awaitable<void> session(tcp::socket s);
  asio::awaitable<bool> refuse(beast::tcp_stream& stream, const boost::system::error_code& ec);
  void close_all();

  context ctx;
  service svc;
  server_options opts;
  asio::io_context io{1};
  tcp::acceptor acceptor;
  asio::steady_timer backoff;
  std::unordered_set<beast::tcp_stream*> streams; // open connections, for stop()
  std::unordered_set<std::shared_ptr<reply_slot>> waiting; // answers to come, for stop()
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
    if (streams.size() >= opts.max_connections) {
      boost::system::error_code ignored;
      s.close(ignored);
      continue;
    }
    asio::co_spawn(io, session(std::move(s)), log_exception);
  }
}

// Answers a request that could not be read with 400/413/431; returns false when the client
// just went away (nothing to answer).
asio::awaitable<bool> server::impl::refuse(beast::tcp_stream& stream,
                                           const boost::system::error_code& ec) {
  namespace http = beast::http;
  if (!is_parse_error(ec))
    co_return false;
  response res =
      ec == http::error::body_limit
          ? error_response(http::status::payload_too_large,
                           "body over " + std::to_string(opts.body_limit) + " bytes")
      : ec == http::error::header_limit
          ? error_response(http::status::request_header_fields_too_large,
                           "header over " + std::to_string(opts.header_limit) + " bytes")
          : error_response(http::status::bad_request, "bad HTTP request: " + ec.message());
  res.keep_alive(false);
  stream.expires_after(opts.write_timeout);
  auto [wec, wn] = co_await http::async_write(stream, res, tuple_awaitable);
  if (!wec && ec == http::error::body_limit) {
    // Read (and drop) what the client is still sending, for a while, so that closing with
    // unread data does not reset the connection before it has read the 413.
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.expires_after(std::chrono::seconds(5));
    std::vector<char> sink(64 * 1024);
    for (std::size_t total = 0; total < 4 * opts.body_limit;) {
      auto [rec, rn] = co_await stream.async_read_some(asio::buffer(sink), tuple_awaitable);
      if (rec)
        break;
      total += rn;
    }
  }
  co_return true;
}

asio::awaitable<void> server::impl::session(tcp::socket s) {
  namespace http = beast::http;
  beast::tcp_stream stream(std::move(s));
  streams.insert(&stream);
  struct untrack {
    impl& self;
    beast::tcp_stream* p;
    ~untrack() { self.streams.erase(p); }
  } guard{*this, &stream};
  beast::flat_buffer buffer;
  while (!stopping) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(opts.header_limit));
    parser.body_limit(opts.body_limit);
    stream.expires_after(opts.read_timeout);
    auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, tuple_awaitable);
    if (hec) {
      co_await refuse(stream, hec);
      break;
    }
    if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
      http::response<http::empty_body> cont{http::status::continue_, 11};
      auto [cec, cn] = co_await http::async_write(stream, cont, tuple_awaitable);
      if (cec)
        break;
    }
    auto [bec, bn] = co_await http::async_read(stream, buffer, parser, tuple_awaitable);
    if (bec) {
      co_await refuse(stream, bec);
      break;
    }
    request req = parser.release();
    auto later = std::make_shared<reply_slot>(io);
    response res = svc.handle(req, later);
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
