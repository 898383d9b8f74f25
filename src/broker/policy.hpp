// The per-client policy seam: who may connect, subscribe, publish and receive. The broker asks
// it; auth/ provides the Aliyun device policy, and anonymous_policy serves generic MQTT clients.
// Implementations must be thread-safe: every worker calls them concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "broker/close_reason.hpp"
#include "broker/compact_string.hpp"
#include "broker/message.hpp"
#include "broker/peer_address.hpp"
#include "mqtt/packet.hpp"

namespace thingport::broker {

enum class transport_kind : std::uint8_t { tcp, tls, ws, wss };
std::string_view to_string(transport_kind t) noexcept;

struct transport_info {
  transport_kind kind = transport_kind::tcp;
  peer_address remote_address;
};

// The host of an address as transport_info holds it: "1.2.3.4:5678" -> "1.2.3.4",
// "[::1]:80" -> "::1"; text without a port (or a bare IPv6 address) is kept. Pure.
std::string_view host_of(std::string_view address) noexcept;

// What a policy attaches to an accepted client; the policy may subclass it to keep its own data
// (a device's productKey/deviceName, an application's products).
struct client_identity {
  virtual ~client_identity() = default;
  // Whose session this is (a device: "d|pk/dn"); empty: the client id (a generic client;
  // "$auto/<serial>" when that is empty too). Views bytes the identity's maker keeps with it (a
  // device's: in the identity's own allocation, docs/performance.md).
  std::string_view session_key;
  std::uint8_t max_qos = 2;    // QoS above this: SUBSCRIBE granted at it, PUBLISH closes the link
  bool check_delivery = false; // ask may_receive() for every message delivered
  std::uint8_t implicit_qos = 1;
  std::uint8_t policy_kind = 0;        // which policy made it (0: generic); lets a policy downcast
  std::uint16_t max_subscriptions = 0; // explicit subscriptions per session; 0: no limit
  std::uint8_t max_filters_per_subscribe = 0; // later filters get 0x80; 0: no limit
  // Sent to this client alone right after its CONNACK (topic, payload; QoS 0), e.g. the answer
  // to a dynamic registration; then the link is closed after close_after (0: never).
  struct farewell {
    std::vector<std::pair<std::string, std::string>> greeting;
    std::chrono::milliseconds close_after{0};
  };
  // What few links have, together behind one pointer made on first use (memory per idle
  // device, docs/performance.md: 8 bytes per identity, not 16): filters subscribed without
  // SUBSCRIBE (_ss=1), and a farewell (registration links).
  struct rare_parts {
    std::vector<std::string> implicit_subscriptions;
    std::optional<farewell> reply;
  };
  rare_parts& rare() {
    if (!rare_)
      rare_ = std::make_unique<rare_parts>();
    return *rare_;
  }
  std::span<const std::string> implicit() const noexcept {
    return rare_ ? std::span<const std::string>(rare_->implicit_subscriptions)
                 : std::span<const std::string>();
  }
  const farewell* reply() const noexcept {
    return rare_ && rare_->reply ? &*rare_->reply : nullptr;
  }

private:
  std::unique_ptr<rare_parts> rare_;
};

// What a policy learns of a connection that went online.
struct connection_facts {
  std::uint64_t serial = 0;
  const compact_string& client_id; // the client's own: stays where it is until on_offline
  const transport_info& transport;
};

struct connect_refusal {
  mqtt::connack_code code;
  std::string why; // for the log
};

using connect_decision = std::variant<std::shared_ptr<const client_identity>, connect_refusal>;

enum class publish_verdict : std::uint8_t {
  allow,
  drop,  // silently dropped and counted (QoS 1 still acknowledged)
  close, // the connection is closed (topic_denied)
};

class client_policy {
public:
  virtual ~client_policy() = default;
  virtual connect_decision authenticate(const mqtt::connect_packet& c, const transport_info& t) = 0;
  // Granted QoS (≤ requested) or mqtt::suback_failure.
  virtual std::uint8_t authorize_subscribe(const client_identity& who, std::string_view filter,
                                           std::uint8_t requested) = 0;
  virtual publish_verdict authorize_publish(const client_identity& who, std::string_view topic,
                                            std::uint8_t qos) = 0;
  // Asked before `m` is delivered to `who`'s session when who.check_delivery is set; `own`: the
  // session published `m` itself (it subscribed to a filter its own topic matches).
  virtual bool may_receive(const client_identity& who, const message& m, bool own) = 0;
  // How many explicit subscriptions `who`'s session may hold now (0: no limit); asked on every
  // SUBSCRIBE, so it may grow and shrink with what the connection does.
  virtual std::size_t subscription_bound(const client_identity& who) {
    return who.max_subscriptions;
  }
  // Whose budget of persistent sessions a session key counts against ("" : none). Sessions are
  // restored at start from their keys alone, so the answer depends on the key only.
  virtual std::string budget_of(std::string_view /*session_key*/) { return {}; }
  // At most this many persistent sessions per budget (0: no limit).
  virtual std::size_t budget_limit(std::string_view /*budget*/) { return 0; }
  // May this client's retained PUBLISH (or will) to `topic` be kept as the topic's retained
  // message? When not, the message is still routed, without being kept.
  virtual bool may_retain(const client_identity& /*who*/, std::string_view /*topic*/) {
    return true;
  }
  // A connection was accepted (after its CONNACK) / has closed. Called on the connection's
  // worker thread; must not block. on_offline comes once for every on_online.
  virtual void on_online(const client_identity& /*who*/, const connection_facts& /*c*/) {}
  virtual void on_offline(const client_identity& /*who*/, std::uint64_t /*serial*/,
                          close_reason /*r*/) {}
};

// Generic MQTT 3.1.1 clients: everyone may connect (when allowed), subscribe to anything except
// the deny list (a filter inside a denied one is refused; one that overlaps it receives nothing
// from the denied part), publish anywhere, keep up to max_subscriptions subscriptions. The
// session key is the client id.
class anonymous_policy final : public client_policy {
public:
  anonymous_policy(bool allow_anonymous, std::vector<std::string> deny_subscribe,
                   std::uint16_t max_subscriptions = 1000, std::size_t max_sessions = 10'000);
  connect_decision authenticate(const mqtt::connect_packet& c, const transport_info& t) override;
  std::uint8_t authorize_subscribe(const client_identity& who, std::string_view filter,
                                   std::uint8_t requested) override;
  publish_verdict authorize_publish(const client_identity& who, std::string_view topic,
                                    std::uint8_t qos) override;
  bool may_receive(const client_identity& who, const message& m, bool own) override;
  // Every generic client's persistent session counts against one pool.
  std::string budget_of(std::string_view) override { return "generic"; }
  std::size_t budget_limit(std::string_view) override { return max_sessions_; }

private:
  std::size_t max_sessions_;
  bool allow_;
  std::vector<std::string> deny_;
  // Every generic client has the same rights: one identity for all (memory per connection).
  std::shared_ptr<const client_identity> everyone_;
};

} // namespace thingport::broker
