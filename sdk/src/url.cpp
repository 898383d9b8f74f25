#include "thingport/device/url.hpp"

#include <charconv>

namespace thingport::device {

namespace {

struct scheme_info {
  std::string_view prefix;
  transport_kind kind;
  std::uint16_t default_port;
};

constexpr scheme_info schemes[] = {
    {"mqtt://", transport_kind::tcp, 1883},  {"tcp://", transport_kind::tcp, 1883},
    {"mqtts://", transport_kind::tls, 8883}, {"ssl://", transport_kind::tls, 8883},
    {"ws://", transport_kind::ws, 80},       {"wss://", transport_kind::wss, 443},
};

} // namespace

std::optional<server_url> parse_url(std::string_view text) {
  server_url u;
  const scheme_info* scheme = nullptr;
  for (const auto& s : schemes) {
    if (text.starts_with(s.prefix))
      scheme = &s;
  }
  if (scheme == nullptr)
    return std::nullopt;
  u.kind = scheme->kind;
  u.port = scheme->default_port;
  std::string_view rest = text.substr(scheme->prefix.size());
  std::string_view authority = rest.substr(0, rest.find('/'));
  if (authority.size() < rest.size()) {
    if (!u.websocket())
      return std::nullopt;
    u.path = std::string(rest.substr(authority.size()));
  }
  std::string_view port_text;
  if (authority.starts_with('[')) { // [v6]:port
    const auto close = authority.find(']');
    if (close == std::string_view::npos)
      return std::nullopt;
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':'))
        return std::nullopt;
      port_text = after.substr(1);
      if (port_text.empty())
        return std::nullopt;
    }
  } else {
    const auto colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty())
        return std::nullopt;
    }
  }
  if (u.host.empty())
    return std::nullopt;
  if (!port_text.empty()) {
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535)
      return std::nullopt;
    u.port = static_cast<std::uint16_t>(port);
  }
  return u;
}

std::string_view to_string(transport_kind k) noexcept {
  switch (k) {
  case transport_kind::tcp:
    return "tcp";
  case transport_kind::tls:
    return "tls";
  case transport_kind::ws:
    return "ws";
  case transport_kind::wss:
    return "wss";
  }
  return "?";
}

} // namespace thingport::device
