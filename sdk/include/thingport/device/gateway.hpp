// A gateway's side of the Alink sub-device protocol (docs/protocol.md "Gateways") over its own
// client: topology (thing.topo.add with each sub-device's sign, delete, get), thing.sub.register,
// combine login/logout and their batches, thing.list.found, and the platform's notices to the
// gateway (thing/topo/change, thing/topo/add/notify), answered 200 automatically.
//
// A sub-device logged in through the gateway speaks through the gateway's link: construct
// thing(gateway_client, sub_pk, sub_dn) once login() answered 200 to post its properties and
// events and to answer its property sets, services and RRPC (thing.hpp). logout() ends those
// subscriptions: after the next login construct a new thing for the sub-device.
//
// Threads: as thing: every callback runs on the client's strand, the member functions may be
// called from any thread. The client must outlive the gateway.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "thingport/device/client.hpp"
#include "thingport/device/thing.hpp"

namespace thingport::device {

struct device_ref {
  std::string product_key;
  std::string device_name;
};

class gateway {
public:
  using reply_handler = thing::reply_handler;
  // A notice from the platform: method "thing.topo.change" (params {"status":0 added, 1
  // removed, 2 enabled, 8 disabled,"subList":[{"productKey","deviceName"}]}) or
  // "thing.topo.add.notify" (params [{"productKey","deviceName"}]: add these).
  using notice_handler =
      std::function<void(std::string_view method, const boost::json::value& params)>;

  // Subscribes `c` (a gateway device's client) to the notices. `sign_method`: hmacmd5, hmacsha1
  // or hmacsha256, for the sub-devices' signs. Throws std::invalid_argument when the client has
  // no device triplet or the sign method is unknown.
  explicit gateway(client& c, std::chrono::milliseconds reply_timeout = std::chrono::seconds(10),
                   std::string sign_method = "hmacsha256");

  // thing.topo.add: 1 to 30 sub-devices, each signed with its secret. The reply's data lists them.
  std::string add_topo(const std::vector<triplet>& subs, reply_handler done = {});
  // thing.topo.delete: 1 to 30.
  std::string delete_topo(const std::vector<device_ref>& subs, reply_handler done = {});
  // thing.topo.get: data [{"productKey","deviceName"}].
  std::string get_topo(reply_handler done);
  // thing.sub.register: 1 to 30; data [{"iotId","productKey","deviceName","deviceSecret"}].
  std::string register_subs(const std::vector<device_ref>& subs, reply_handler done);
  // thing.proxy.provisioning.product_register (Link SDK 4's registration through a gateway):
  // 1 to 30 sub-devices of products with dynamic registration on, each signed (hmacSha256, with a
  // fresh random) with `product_secret` (all of one product, or one call per product). data
  // {"successes":[{"iotId","productKey","deviceName","deviceSecret"}],"failures":[{...,"code"}]}.
  std::string product_register(const std::vector<device_ref>& subs,
                               const std::string& product_secret, reply_handler done);
  // thing.list.found: 1 to 30 sub-devices the gateway discovered.
  std::string report_found(const std::vector<device_ref>& subs, reply_handler done = {});
  // combine/login of one sub-device (in this gateway's topology), signed with its secret.
  std::string login(const triplet& sub, reply_handler done = {});
  // logout and batch_logout first unsubscribe the client from every filter naming the
  // sub-devices (/sys/{pk}/{dn}/..., /{pk}/{dn}/..., /ota/device/.../{pk}/{dn} ...): the platform
  // takes them from the gateway's session at the logout, and a later link must not ask again.
  std::string logout(const device_ref& sub, reply_handler done = {});
  // combine/batch_login: 1 to 50, all or nothing; data [{"productKey","deviceName"}].
  std::string batch_login(const std::vector<triplet>& subs, reply_handler done = {});
  std::string batch_logout(const std::vector<device_ref>& subs, reply_handler done = {});

  // thing.event.property.pack.post: the properties of up to 50 logged-in sub-devices in one
  // message (one reply for all), each {identifier: value}. A gateway with many sub-devices posts
  // this way: the platform bounds each link's subscriptions ([limits]), so per-sub-device
  // post_reply subscriptions do not scale to hundreds.
  struct sub_properties {
    device_ref sub;
    boost::json::object properties;
  };
  std::string pack_post(const std::vector<sub_properties>& subs, reply_handler done = {});

  void on_notice(notice_handler h);
  // The gateway's own thing helpers (its properties, events, services): use this one rather
  // than a second thing on the same client, whose subscriptions would replace these.
  thing& self() noexcept;
  // Fails the requests still waiting for their replies with errc::stopped (as thing::cancel).
  void cancel();

  // A sub-device's sign entry {"productKey","deviceName","clientId":"pk.dn","timestamp",
  // "signmethod","sign"}: hex HMAC keyed by its secret over
  // clientId{pk.dn}deviceName{dn}productKey{pk}timestamp{ms}.
  static boost::json::object sign_entry(const triplet& sub, std::string_view sign_method,
                                        std::int64_t timestamp_ms);

  struct state;

private:
  std::shared_ptr<state> state_;
};

} // namespace thingport::device
