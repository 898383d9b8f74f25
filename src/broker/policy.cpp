#include "broker/policy.hpp"

#include "mqtt/topic.hpp"

namespace thingport::broker {

std::string_view to_string(transport_kind t) noexcept {
  switch (t) {
  case transport_kind::tcp: return "tcp";
  case transport_kind::tls: return "tls";
  case transport_kind::ws: return "ws";
  case transport_kind::wss: return "wss";
  }
  return "?";
}

anonymous_policy::anonymous_policy(bool allow_anonymous, std::vector<std::string> deny_subscribe)
    : allow_(allow_anonymous), deny_(std::move(deny_subscribe)) {}

connect_decision anonymous_policy::authenticate(const mqtt::connect_packet&,
                                                const transport_info&) {
  if (!allow_)
    return connect_refusal{mqtt::connack_code::not_authorized, "anonymous clients not allowed"};
  return everyone_;
}

std::uint8_t anonymous_policy::authorize_subscribe(const client_identity&, std::string_view filter,
                                                   std::uint8_t requested) {
  for (const auto& d : deny_) {
    // Deny entries are filters: a subscription is refused when it is one of them or names only
    // topics inside one ("secret/#" refuses "secret/a"). A broader filter such as "#" is
    // granted; what it may receive is not narrowed (generic clients are trusted).
    if (d == filter || (mqtt::valid_topic_name(filter) && mqtt::topic_matches(d, filter)))
      return mqtt::suback_failure;
  }
  return requested;
}

publish_verdict anonymous_policy::authorize_publish(const client_identity&, std::string_view,
                                                    std::uint8_t) {
  return publish_verdict::allow;
}

bool anonymous_policy::may_receive(const client_identity&, std::string_view) { return true; }

}  // namespace thingport::broker
