// thing.topo.add / delete / get, thing.sub.register, thing.list.found,
// thing.proxy.provisioning.product_register and combine/login|logout from a gateway's link
// (docs/protocol.md "Gateways"): the checks (a gateway product's device; sub-devices of subdevice
// products, each with its sign), the identity store, and what to answer. On the thing thread;
// blocks on the store.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "platform/topology_state.hpp"
#include "store/identity_store.hpp"
#include "thing/topic.hpp"

namespace thingport::platform {

inline constexpr std::size_t max_topo_request = 30; // sub-devices in one thing.topo.add/delete

struct topology_answer {
  std::error_code code{};    // thing::code; empty: 200
  boost::json::value data{}; // [{"productKey","deviceName"}] of the sub-devices concerned
  std::string message{};     // empty: the code's own
  // thing.topo.add: the sub-devices it took from other gateways, per gateway they left (each is
  // told by thing/topo/change status 1, as when the API moves one).
  std::vector<std::pair<store::device_ref, std::vector<store::device_ref>>> left{};
};

// Sub-device sessions over a gateway's link (combine/login, combine/logout): who is online
// through which gateway. Implemented by device_policy (status, the directory, permissions).
class sub_sessions {
public:
  // `sub` is online through gateway gpk/gdn (which must be online itself: false otherwise).
  virtual bool sub_online(const store::device_ref& sub, std::string_view iot_id,
                          std::string_view gpk, std::string_view gdn,
                          std::string_view client_id) = 0;
  // `sub` goes offline if it is online through gpk/gdn; returns whether it was.
  virtual bool sub_offline(const store::device_ref& sub, std::string_view gpk,
                           std::string_view gdn) = 0;
  // The same for many (a batch_logout): the gateway's session loses their filters in one pass.
  virtual void subs_offline(const std::vector<store::device_ref>& subs, std::string_view gpk,
                            std::string_view gdn) {
    for (const auto& s : subs)
      sub_offline(s, gpk, gdn);
  }
  virtual bool is_online_via(std::string_view pk, std::string_view dn, std::string_view gpk,
                             std::string_view gdn) const = 0;
  // `sub` goes offline if it is online through any gateway other than gpk/gdn (empty: any):
  // it was disabled, deleted, or left that gateway's topology.
  virtual bool end_sub_session(const store::device_ref& sub, std::string_view gpk = {},
                               std::string_view gdn = {}) = 0;
  // The gateway pk/dn is logged in through; nullopt when it is not a logged-in sub-device.
  virtual std::optional<store::device_ref> gateway_online(std::string_view pk,
                                                          std::string_view dn) const = 0;

protected:
  ~sub_sessions() = default;
};

// `subs`: null answers combine/login and logout 500. `gw` (found devices, the login bound): null
// answers thing.list.found 500 and leaves logins unbounded.
topology_answer serve_topology(store::identity_store& ids, sub_sessions* subs, gateway_state* gw,
                               std::string_view gateway_pk, std::string_view gateway_dn,
                               thing::topic_kind kind, const boost::json::value& params);

} // namespace thingport::platform
