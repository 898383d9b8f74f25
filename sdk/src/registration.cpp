#include "thingport/device/registration.hpp"

#include <cctype>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json/parse.hpp>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "auth/sign.hpp"
#include "registration_mqtt.hpp"
#include "transport.hpp"

namespace thingport::device {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

namespace {

std::string form_escape(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char ch : s) {
    if (std::isalnum(ch) != 0 || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += hex[ch >> 4U];
      out += hex[ch & 15U];
    }
  }
  return out;
}

constexpr auto token = asio::as_tuple(asio::use_awaitable);

// Asynchronous, as a beast::tcp_stream's deadline bounds only asynchronous operations: a server
// that accepts and never answers (or trickles) is cut off at the request's timeout.
template <class Stream>
asio::awaitable<boost::system::error_code> exchange(Stream& s,
                                                    const http::request<http::string_body>& req,
                                                    http::response<http::string_body>& res) {
  auto [wec, written] = co_await http::async_write(s, req, token);
  if (wec)
    co_return wec;
  beast::flat_buffer buf;
  http::response_parser<http::string_body> p;
  p.body_limit(64 * 1024); // the header's limit is the parser's default (8 KiB)
  auto [rec, read] = co_await http::async_read(s, buf, p, token);
  if (!rec)
    res = p.release();
  co_return rec;
}

} // namespace

registration_result register_device(const registration_request& r) {
  registration_result out;
  auto method = auth::parse_sign_method(r.sign_method);
  if (!r.url.starts_with("http://") && !r.url.starts_with("https://")) {
    auto mqtt_url = parse_url(r.url); // mqtt(s)://, ws(s)://: registration over MQTT
    if (!method || !mqtt_url) {
      out.error = make_error_code(errc::invalid_argument);
      return out;
    }
    return detail::register_over_mqtt(r, *mqtt_url, *method);
  }
  const bool tls = r.url.starts_with("https://");
  if (!method || (!tls && !r.url.starts_with("http://"))) {
    out.error = make_error_code(errc::invalid_argument);
    return out;
  }
  std::string authority = r.url.substr(tls ? 8 : 7);
  authority = authority.substr(0, authority.find('/'));
  auto parsed = parse_url((tls ? "mqtts://" : "mqtt://") + authority);
  if (!parsed) {
    out.error = make_error_code(errc::invalid_argument);
    return out;
  }
  if (authority.find(':') == std::string::npos)
    parsed->port = tls ? 443 : 80;

  std::mt19937_64 rng(std::random_device{}());
  const std::string random = std::to_string(rng());
  const std::string sign =
      auth::http_register_sign(*method, r.product_secret, r.device_name, r.product_key, random);
  http::request<http::string_body> req{http::verb::post, "/auth/register/device", 11};
  req.set(http::field::host, authority);
  req.set(http::field::content_type, "application/x-www-form-urlencoded");
  req.body() = "productKey=" + form_escape(r.product_key) +
               "&deviceName=" + form_escape(r.device_name) + "&random=" + random + "&sign=" + sign +
               "&signMethod=" + std::string(auth::to_string(*method));
  req.prepare_payload();

  asio::io_context io;
  boost::system::error_code ec;
  asio::ip::tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(parsed->host, std::to_string(parsed->port), ec);
  http::response<http::string_body> res;
  std::shared_ptr<asio::ssl::context> ctx;
  if (!ec && tls) {
    try {
      ctx = detail::make_tls_context(r.ca_file, true);
    } catch (const std::exception&) {
      ec = asio::error::invalid_argument; // the CA file could not be loaded
    }
  }
  // One deadline (r.timeout) for connect, TLS handshake, request and response together.
  auto post = [&]() -> asio::awaitable<void> {
    if (tls) {
      beast::ssl_stream<beast::tcp_stream> s(io, *ctx);
      beast::get_lowest_layer(s).expires_after(r.timeout);
      auto [cec, ep] = co_await beast::get_lowest_layer(s).async_connect(endpoints, token);
      ec = cec;
      if (!ec) {
        SSL_set_tlsext_host_name(s.native_handle(), parsed->host.c_str());
        X509_VERIFY_PARAM_set1_host(SSL_get0_param(s.native_handle()), parsed->host.c_str(), 0);
        auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::client, token);
        ec = hec;
      }
      if (!ec)
        ec = co_await exchange(s, req, res);
    } else {
      beast::tcp_stream s(io);
      s.expires_after(r.timeout);
      auto [cec, ep] = co_await s.async_connect(endpoints, token);
      ec = cec;
      if (!ec)
        ec = co_await exchange(s, req, res);
    }
  };
  if (!ec) {
    asio::co_spawn(io, post, asio::detached);
    io.run();
  }
  if (ec) {
    out.error = ec;
    return out;
  }
  boost::system::error_code jec;
  json::value v = json::parse(res.body(), jec);
  const auto* o = v.if_object();
  const auto* code = o != nullptr ? o->if_contains("code") : nullptr;
  if (jec || code == nullptr || !code->is_int64()) {
    out.error = make_error_code(errc::bad_reply);
    return out;
  }
  out.code = static_cast<int>(code->as_int64());
  if (const auto* m = o->if_contains("message"); m != nullptr && m->is_string())
    out.message = std::string(m->as_string());
  if (out.code == 200) {
    const auto* data = o->if_contains("data");
    const auto* d = data != nullptr ? data->if_object() : nullptr;
    auto field = [d](std::string_view k) {
      const auto* f = d != nullptr ? d->if_contains(k) : nullptr;
      return f != nullptr && f->is_string() ? std::string(f->as_string()) : std::string();
    };
    out.device = {field("productKey"), field("deviceName"), field("deviceSecret")};
    if (out.device.device_secret.empty())
      out.error = make_error_code(errc::bad_reply);
  }
  return out;
}

} // namespace thingport::device
