// The PROXY protocol header (versions 1 and 2) that a TCP load balancer such as HAProxy puts in
// front of a client's first byte to say whose connection it passes on (docs/protocol.md
// "Behind a load balancer"). A listener with `proxy_protocol = true` requires it on every
// connection and takes the client's address from it. Pure: bytes in, a verdict out; fuzzed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include <boost/asio/ip/tcp.hpp>

namespace thingport::net {

// The longest header taken: a version 1 line is at most 107 bytes; a version 2 header is 16
// bytes and its address block, which TLVs may lengthen (HAProxy, cloud balancers: well under
// this). Longer ones are refused.
inline constexpr std::size_t max_proxy_header = 16 + 1024;

struct proxy_header_result {
  enum class status : std::uint8_t { complete, need_more, invalid };
  status state = status::need_more;
  std::size_t length = 0; // complete: bytes the header took (the client's bytes follow)
  // complete: the client's address; empty for a LOCAL (v2) or UNKNOWN (v1) header, a balancer's
  // own health check, where the socket's address stands.
  std::optional<boost::asio::ip::tcp::endpoint> source;
  std::string_view error; // invalid: why, for the log
};

// Reads a header from the first bytes of a connection. need_more: every byte so far belongs to
// a header that is not finished yet.
proxy_header_result parse_proxy_header(std::span<const std::uint8_t> bytes) noexcept;

} // namespace thingport::net
