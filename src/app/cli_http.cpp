#include "app/cli_http.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>

#include "api/token.hpp"

namespace thingport::app {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::optional<api_endpoint> parse_api_url(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (!url.starts_with(scheme))
    return std::nullopt;
  url.remove_prefix(scheme.size());
  const auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  api_endpoint ep;
  if (slash != std::string_view::npos) {
    ep.base = std::string(url.substr(slash));
    while (!ep.base.empty() && ep.base.back() == '/')
      ep.base.pop_back();
  }
  std::string_view port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos)
      return std::nullopt;
    ep.host = std::string(authority.substr(1, close - 1));
    const auto rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':')
        return std::nullopt;
      port = rest.substr(1);
    }
  } else {
    const auto colon = authority.find(':');
    ep.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos)
      port = authority.substr(colon + 1);
  }
  if (ep.host.empty() || authority.find('@') != std::string_view::npos)
    return std::nullopt;
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
        std::stoul(std::string(port)) > 65535)
      return std::nullopt;
    ep.port = std::string(port);
  }
  return ep;
}

api_reply call_api(const api_endpoint& ep, http::verb method, std::string_view path,
                   std::string_view token, std::string body) {
  const std::string where = "http://" + ep.host + ":" + ep.port + ep.base;
  try {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(120)); // a 50,000-device batch takes a while
    asio::ip::tcp::resolver resolver(io);
    stream.connect(resolver.resolve(ep.host, ep.port));

    http::request<http::string_body> req{method, ep.base + std::string(path), 11};
    req.set(http::field::host, ep.host + ":" + ep.port);
    req.set(http::field::user_agent, "thingport-cli");
    req.set(http::field::authorization, "Bearer " + std::string(token));
    req.set(http::field::accept, "application/json");
    if (!body.empty())
      req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
    req.prepare_payload();
    req.keep_alive(false);
    http::write(stream, req);

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    http::read(stream, buffer, parser);
    boost::system::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    return {parser.get().result_int(), std::move(parser.get().body())};
  } catch (const boost::system::system_error& e) {
    throw api_unreachable("cannot reach the API at " + where + ": " + e.code().message() +
                          " (is `thingport serve` running? --api URL or THINGPORT_API)");
  }
}

std::string error_message(const api_reply& r) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(r.body, ec);
  if (!ec && v.is_object()) {
    if (const auto* m = v.get_object().if_contains("message"); m != nullptr && m->is_string())
      return std::string(m->get_string());
  }
  return r.body.empty() ? "HTTP " + std::to_string(r.status) : r.body;
}

std::optional<int> resolve_api(std::string_view url, const std::string& token,
                               const std::string& data_dir, api_endpoint& ep, std::string& tok) {
  const auto parsed = parse_api_url(url);
  if (!parsed) {
    std::fprintf(stderr, "thingport: --api: expected http://HOST[:PORT], got '%.*s'\n",
                 static_cast<int>(url.size()), url.data());
    return 2;
  }
  ep = *parsed;
  tok = token;
  if (tok.empty()) {
    try {
      tok = api::read_token_file(std::filesystem::path(data_dir) / api::token_file_name);
    } catch (const std::exception& e) {
      std::fprintf(stderr,
                   "thingport: no admin token: pass --token, set THINGPORT_TOKEN or point --data "
                   "at the server's data directory (%s)\n",
                   e.what());
      return 2;
    }
  }
  return std::nullopt;
}

int print_reply(const api_reply& r) {
  if (r.status >= 200 && r.status < 300) {
    std::printf("%s\n", r.body.c_str());
    return 0;
  }
  std::fprintf(stderr, "thingport: %s (HTTP %u)\n", error_message(r).c_str(), r.status);
  return 1;
}

int run_api_call(std::string_view url, const std::string& token, const std::string& data_dir,
                 http::verb method, std::string_view path, std::string body) {
  api_endpoint ep;
  std::string tok;
  if (auto rc = resolve_api(url, token, data_dir, ep, tok))
    return *rc;
  try {
    return print_reply(call_api(ep, method, path, tok, std::move(body)));
  } catch (const api_unreachable& e) {
    std::fprintf(stderr, "thingport: %s\n", e.what());
    return 2;
  }
}

} // namespace thingport::app
