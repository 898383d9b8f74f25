// The HTTP types the API's handlers work with, and the answers every handler builds: JSON
// bodies and the error shape {"code":<status>,"message":...}. Pure; any thread.
#pragma once

#include <string>
#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/value.hpp>

namespace thingport::api {

namespace http = boost::beast::http;

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

// Why a request is refused: the status and a message for people (never a stack of internals).
struct problem {
  http::status status = http::status::bad_request;
  std::string message;
};

response json_response(http::status s, const boost::json::value& v);
response error_response(const problem& p);
inline response error_response(http::status s, std::string message) {
  return error_response(problem{s, std::move(message)});
}
response text_response(http::status s, std::string_view content_type, std::string body);

} // namespace thingport::api
