// The admin commands' HTTP client: one synchronous request to the API (Boost.Beast), and where
// the API and its token are (README.md: --api / THINGPORT_API, --token / THINGPORT_TOKEN /
// the data dir's admin.token). Control plane: throws on failure.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <boost/beast/http/verb.hpp>

namespace thingport::app {

inline constexpr std::string_view default_api_url = "http://127.0.0.1:8080";

struct api_endpoint {
  std::string host;
  std::string port = "80";
  std::string base; // path prefix without a trailing '/', usually ""
};

// "http://host[:port][/base]" ("[v6]" hosts too); nullopt for anything else (https included:
// the API listens on plain HTTP, normally on 127.0.0.1).
std::optional<api_endpoint> parse_api_url(std::string_view url);

struct api_reply {
  unsigned status = 0;
  std::string body;
};

// The server could not be reached or the exchange broke off.
class api_unreachable : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Sends `method path` with `body` (JSON, when not empty) and the bearer token; returns the
// answer whatever its status. Throws api_unreachable.
api_reply call_api(const api_endpoint& ep, boost::beast::http::verb method, std::string_view path,
                   std::string_view token, std::string body = {});

// The message of an API error body ({"code","message"}), or the body itself.
std::string error_message(const api_reply& r);

// The endpoint and token of an admin command's --api, --token and --data (the token file
// there when --token is empty): nullopt, or the exit code (2) after saying why on stderr.
std::optional<int> resolve_api(std::string_view url, const std::string& token,
                               const std::string& data_dir, api_endpoint& ep, std::string& tok);
// Prints the answer: the body on stdout (exit code 0) or its message on stderr (1).
int print_reply(const api_reply& r);
// resolve_api, call_api and print_reply: the exit code (2 when the server cannot be reached).
int run_api_call(std::string_view url, const std::string& token, const std::string& data_dir,
                 boost::beast::http::verb method, std::string_view path, std::string body = {});

} // namespace thingport::app
