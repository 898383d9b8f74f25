#include <arpa/inet.h>

#include <algorithm>

#include <fmt/format.h>

#include "broker/policy.hpp"

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

std::string peer_address::host() const {
  if (!known())
    return "?";
  char text[INET6_ADDRSTRLEN] = {};
  if (::inet_ntop(family_ == 4 ? AF_INET : AF_INET6, ip_.data(), text, sizeof text) == nullptr)
    return "?";
  return text;
}

std::string peer_address::to_string() const {
  if (!known())
    return "?";
  return family_ == 4 ? fmt::format("{}:{}", host(), port_) : fmt::format("[{}]:{}", host(), port_);
}

} // namespace thingport::broker
