#include <arpa/inet.h>

#include <algorithm>

#include <fmt/format.h>

#include "broker/peer_address.hpp"

namespace thingport::broker {

peer_address peer_address::v4(const std::array<std::uint8_t, 4>& ip, std::uint16_t port) noexcept {
  peer_address a;
  std::copy(ip.begin(), ip.end(), a.ip_.begin());
  a.port_ = port;
  a.family_ = 4;
  return a;
}

peer_address peer_address::v6(const std::array<std::uint8_t, 16>& ip, std::uint16_t port) noexcept {
  peer_address a;
  a.ip_ = ip;
  a.port_ = port;
  a.family_ = 6;
  return a;
}

std::string_view peer_address::write_host(host_buffer& buf) const noexcept {
  static_assert(std::tuple_size_v<host_buffer> == INET6_ADDRSTRLEN);
  if (!known() ||
      ::inet_ntop(family_ == 4 ? AF_INET : AF_INET6, ip_.data(), buf.data(), buf.size()) == nullptr)
    return "?";
  return buf.data();
}

std::string peer_address::host() const {
  host_buffer buf;
  return std::string(write_host(buf));
}

std::string_view peer_address::write(text_buffer& buf) const noexcept {
  if (!known())
    return "?";
  host_buffer host;
  const auto h = write_host(host);
  const auto r = family_ == 4 ? fmt::format_to_n(buf.data(), buf.size(), "{}:{}", h, port_)
                              : fmt::format_to_n(buf.data(), buf.size(), "[{}]:{}", h, port_);
  return {buf.data(), std::min(r.size, buf.size())};
}

} // namespace thingport::broker
