// The two OTA requests whose bodies are files (docs/http-api.md "OTA"), served by the HTTP server
// as streams, never whole in memory:
//   POST /api/v1/products/{pk}/firmwares?version=&module=&srcVersions=   (token checked before)
//     the body goes through a 64 KiB buffer to a temporary file while MD5 and SHA-256 are
//     computed, up to [limits] max_firmware bytes (413 beyond, nothing kept);
//   GET|HEAD /ota/firmware/{id}?productKey=&deviceName=&expires=&sign=    (no token: the link
//     is signed, platform/ota_token.hpp); Range: one range → 206, outside → 416.
//
// Threads: the HTTP server's.
#pragma once

#include <chrono>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>

#include "api/context.hpp"
#include "api/http.hpp"
#include "api/target.hpp"

namespace thingport::api {

enum class ota_stream : unsigned char { none, upload, download };

// Which of the two `t` is (after admit()).
ota_stream ota_stream_of(http::verb method, const target& t) noexcept;

struct stream_timeouts {
  std::chrono::seconds idle_read{30};  // between two pieces of an upload
  std::chrono::seconds idle_write{60}; // between two pieces of a download
};

// Serves the request whose header `parser` holds; true when the connection may carry another.
boost::asio::awaitable<bool> serve_ota_stream(context& ctx, ota_stream kind,
                                              boost::beast::tcp_stream& stream,
                                              boost::beast::flat_buffer& buffer,
                                              http::request_parser<http::string_body>& parser,
                                              const target& t, stream_timeouts to);

} // namespace thingport::api
