#include "net/ws_upgrade.hpp"

#include <algorithm>
#include <cctype>

#include <boost/algorithm/string/predicate.hpp>

namespace thingport::net {

namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

} // namespace

std::optional<std::string_view> pick_subprotocol(std::string_view offered) noexcept {
  while (!offered.empty()) {
    const auto comma = offered.find(',');
    const std::string_view token = trim(offered.substr(0, comma));
    // Subprotocol names are case-sensitive tokens (RFC 6455 §4.1).
    if (token == "mqtt" || token == "mqttv3.1")
      return token;
    if (comma == std::string_view::npos)
      break;
    offered.remove_prefix(comma + 1);
  }
  return std::nullopt;
}

bool origin_allowed(std::string_view origin, const std::vector<std::string>& allowed) noexcept {
  if (allowed.empty() || origin.empty())
    return true;
  origin = trim(origin);
  return std::any_of(allowed.begin(), allowed.end(), [origin](const std::string& a) {
    return boost::algorithm::iequals(trim(a), origin);
  });
}

} // namespace thingport::net
