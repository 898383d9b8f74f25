// The Aliyun client policy (docs/protocol.md "Logging in", "Dynamic registration", "Topics", "The
// cloud side"): devices log in with the triplet sign, applications with their app sign,
// registration links get their secret or token; generic MQTT clients are served as anonymous_policy
// serves them when allow_anonymous is on. Devices and applications stay inside their topic
// permissions (checked on SUBSCRIBE, PUBLISH and again on delivery). Status changes of devices are
// kept in the directory, written to the store off the workers' threads, and published for
// applications on /as/mqtt/status/{pk}/{dn}.
//
// Threads: authenticate/authorize/may_receive/on_online/on_offline run on worker threads,
// concurrently. The store writes go through one background thread (status_writer).
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "auth/login.hpp"
#include "auth/permissions.hpp"
#include "auth/rate_limiter.hpp"
#include "platform/core.hpp"
#include "platform/directory.hpp"
#include "platform/topology.hpp"

namespace thingport::platform {

struct device_policy_options {
  auth::login_policy login{};
  std::vector<std::string> deny_subscribe{}; // generic clients only
  std::uint32_t connect_rate = 5;            // attempts per device per minute; 0: no limit
  std::uint32_t login_failures = 10;         // failed logins per source address per minute;
                                             // 0: no limit
  std::uint16_t max_subscriptions = 100;     // per device or application session
  // A gateway's link holds max_subscriptions more per sub-device logged in through it (at most
  // store::max_sub_devices counted): its sub-devices' subscriptions are made on its link.
  std::uint16_t subscriptions_per_sub_device = 20;
  std::uint16_t max_generic_subscriptions = 1000; // per generic (anonymous) client session
  std::size_t max_app_sessions = 100;             // persistent sessions per application credential
  std::size_t max_generic_sessions = 10'000;      // persistent sessions of all generic clients
  std::uint8_t max_filters_per_subscribe = 8;
  std::chrono::milliseconds registration_linger{15'000}; // register links close after this
};

// Who a device's connection is, as the services need it after CONNECT: views of its identity's
// session key ("d|pk/dn"), valid as long as the identity.
struct device_login_ref {
  std::string_view product_key, device_name;
};

// What a device or application connection carries (policy_kind 1): only what is needed after
// CONNECT (memory per idle device, docs/performance.md), not the whole auth::login_identity.
struct aliyun_identity final : client_identity {
  aliyun_identity() = default;
  aliyun_identity(const aliyun_identity&) = delete; // `device` views its own session_key
  aliyun_identity& operator=(const aliyun_identity&) = delete;

  // The iotId's 24 hex digits (none for applications and registration links).
  std::string iot_id() const;
  bool is_device() const noexcept { return kind == auth::client_kind::device; }

  // Devices and registration links: views of pk and dn in the session key ("d|pk/dn" or
  // "r|pk/dn"; empty for others), found from pk's length, not kept (8 bytes fewer per link).
  device_login_ref device() const noexcept {
    if (pk_size == 0)
      return {};
    const std::string_view key = session_key;
    return {key.substr(2, pk_size), key.substr(3U + pk_size)};
  }

  auth::client_kind kind = auth::client_kind::anonymous;
  bool rrpc_ext = false; // ext bit 0 at login: sync services go on /ext/rrpc/{id}/sys/...
  bool has_iot_id = false;
  std::uint8_t pk_size = 0; // see device()
  // auth::iot_id()'s 24 lower-case hex digits as the 12 bytes they spell (memory per idle
  // device: the identity fits a smaller allocation).
  std::array<std::uint8_t, 12> iot_id_bytes{};
  // Views the device name in session_key (devices).
  auth::client_permissions permissions;
  // A device's record in the directory while it is online (on_online to on_offline): the
  // directory indexes it in place (memory per idle device). Written on the link's worker when
  // it goes online, before the directory's lock publishes it; never after.
  mutable online_record online;
};

// The login of a device's connection; none for applications, registration links and generic
// clients. Any thread; its views are valid as long as `who`.
std::optional<device_login_ref> device_login(const client_identity& who) noexcept;

class device_policy final : public client_policy, public sub_sessions {
public:
  device_policy(directory& dir, device_policy_options opts);
  ~device_policy() override;
  device_policy(const device_policy&) = delete;
  device_policy& operator=(const device_policy&) = delete;

  // Status events are published through `b`; call before the broker starts.
  void attach(broker::broker& b) noexcept { broker_ = &b; }

  connect_decision authenticate(const mqtt::connect_packet& c, const transport_info& t) override;
  std::uint8_t authorize_subscribe(const client_identity& who, std::string_view filter,
                                   std::uint8_t requested) override;
  publish_verdict authorize_publish(const client_identity& who, std::string_view topic,
                                    std::uint8_t qos) override;
  bool may_receive(const client_identity& who, const message& m, bool own) override;
  bool may_retain(const client_identity& who, std::string_view topic) override;
  std::size_t subscription_bound(const client_identity& who) override;
  std::string budget_of(std::string_view session_key) override;
  std::size_t budget_limit(std::string_view budget) override;
  void on_online(const client_identity& who, const connection_facts& c) override;
  void on_offline(const client_identity& who, std::uint64_t serial, close_reason r) override;

  // sub_sessions: sub-devices online through a gateway's link. They go offline with it.
  bool sub_online(const store::device_ref& sub, std::string_view iot_id, std::string_view gpk,
                  std::string_view gdn, std::string_view client_id) override;
  bool sub_offline(const store::device_ref& sub, std::string_view gpk,
                   std::string_view gdn) override;
  void subs_offline(const std::vector<store::device_ref>& subs, std::string_view gpk,
                    std::string_view gdn) override;
  bool is_online_via(std::string_view pk, std::string_view dn, std::string_view gpk,
                     std::string_view gdn) const override {
    return dir_.online_via(pk, dn, gpk, gdn);
  }
  bool end_sub_session(const store::device_ref& sub, std::string_view gpk,
                       std::string_view gdn) override;
  std::optional<store::device_ref> gateway_online(std::string_view pk,
                                                  std::string_view dn) const override;

  // A device that was online on a cluster node that died (cluster/failover.hpp): OFFLINE through
  // the status path (the store write, the status message) unless it is online on this node.
  // Any thread.
  bool lost_elsewhere(std::string_view pk, std::string_view dn);
  // Told of every sub-device login and logout through a gateway's link (`gateway_serial`: that
  // link's serial), for the cluster's records (cluster/failover.hpp). Set before the broker
  // starts; called on the thread that logs the sub-device in or out.
  using sub_observer =
      std::function<void(const store::device_ref& sub, std::uint64_t gateway_serial, bool online)>;
  void observe_subs(sub_observer f) { sub_observer_ = std::move(f); }

  // Store writes queued and not yet done (for tests and shutdown).
  std::size_t pending_writes() const;
  // Waits until every queued store write is done.
  void flush();

private:
  // Status changes written in one transaction at most.
  static constexpr std::size_t max_status_batch = 1024;
  struct status_write {
    std::string pk, dn;
    bool online = false;
    store::timestamp at{};
    std::string ip;
  };
  connect_decision accept_registration(const auth::login_identity& li);
  void publish_status(std::string_view pk, std::string_view dn, std::string_view iot_id,
                      bool online, const std::string& ip);
  // Whether gateway `li` may use `topic` (a filter when subscribing) as a sub-device logged in
  // through it: the topic names that sub-device, enabled (but for receiving: a disabled one's
  // last notice, thing/disable, still reaches its gateway), whose own product permits it.
  enum class sub_use : std::uint8_t { publish, subscribe, receive };
  bool sub_may(const device_login_ref& li, std::string_view topic, sub_use use) const;
  bool sub_may(std::string_view gpk, std::string_view gdn, std::string_view topic,
               sub_use use) const;
  // The device a topic (or filter) names in the levels sub_may checks; views into `topic`.
  struct named {
    std::string_view product_key, device_name;
  };
  static std::optional<named> device_named(std::string_view topic) noexcept;
  // The login of `sub` through gateway gpk/gdn ended: the gateway's session loses the filters
  // it held only as that sub-device's gateway (asynchronously, on the session's worker).
  void revoke(const store::device_ref& sub, std::string_view gpk, std::string_view gdn);
  // The same for many at once (the gateway's link closed): one pass over its filters.
  void revoke(std::vector<store::device_ref> subs, std::string_view gpk, std::string_view gdn);
  // sub_offline without the revoke (the caller revokes them together).
  bool sub_offline_only(const store::device_ref& sub, std::string_view gpk, std::string_view gdn);
  void enqueue(status_write w);
  void writer_loop();

  directory& dir_;
  device_policy_options opts_;
  anonymous_policy generic_;
  std::optional<auth::connect_rate_limiter> limiter_;  // logins per device, after the sign
  std::optional<auth::connect_rate_limiter> failures_; // failed logins per source address
  broker::broker* broker_ = nullptr;
  sub_observer sub_observer_;

  mutable std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<status_write> queue_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread writer_;
};

} // namespace thingport::platform
