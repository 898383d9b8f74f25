#include "broker/policy.hpp"

#include "mqtt/topic.hpp"

namespace thingport::broker {

std::string_view host_of(std::string_view a) noexcept {
  if (!a.empty() && a.front() == '[') {
    const auto close = a.find(']');
    return close == std::string_view::npos ? a : a.substr(1, close - 1);
  }
  const auto colon = a.find(':');
  if (colon == std::string_view::npos || a.find(':', colon + 1) != std::string_view::npos)
    return a; // no port, or a bare IPv6 address
  return a.substr(0, colon);
}

std::string_view to_string(transport_kind t) noexcept {
  switch (t) {
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

anonymous_policy::anonymous_policy(bool allow_anonymous, std::vector<std::string> deny_subscribe,
                                   std::uint16_t max_subscriptions, std::size_t max_sessions)
    : max_sessions_(max_sessions), allow_(allow_anonymous), deny_(std::move(deny_subscribe)) {
  auto id = std::make_shared<client_identity>();
  // A filter that only overlaps a denied one ("#" and "secret/#") is granted, and what falls
  // in the denied part is held back on delivery.
  id->check_delivery = !deny_.empty();
  id->max_subscriptions = max_subscriptions;
  everyone_ = std::move(id);
}

connect_decision anonymous_policy::authenticate(const mqtt::connect_packet&,
                                                const transport_info&) {
  if (!allow_)
    return connect_refusal{mqtt::connack_code::not_authorized, "anonymous clients not allowed"};
  return everyone_;
}

std::uint8_t anonymous_policy::authorize_subscribe(const client_identity&, std::string_view filter,
                                                   std::uint8_t requested) {
  for (const auto& d : deny_) {
    // Deny entries are filters: a subscription is refused when every topic it names is inside
    // one ("secret/#" refuses "secret/a", "secret/+" and "secret/#"). A broader filter such as
    // "#" is granted; may_receive() keeps the denied topics from it.
    if (mqtt::filter_covers(d, filter))
      return mqtt::suback_failure;
  }
  return requested;
}

publish_verdict anonymous_policy::authorize_publish(const client_identity&, std::string_view,
                                                    std::uint8_t) {
  return publish_verdict::allow;
}

bool anonymous_policy::may_receive(const client_identity&, const message& m, bool) {
  for (const auto& d : deny_)
    if (mqtt::topic_matches(d, m.topic))
      return false;
  return true;
}

} // namespace thingport::broker
