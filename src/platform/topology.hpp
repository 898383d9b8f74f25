// thing.topo.add / delete / get and thing.sub.register from a gateway's own link
// (docs/protocol.md "Gateways"): the checks (a gateway product's device; sub-devices of subdevice
// products, each with its sign), the identity store, and what to answer. On the thing thread;
// blocks on the store.
#pragma once

#include <string>
#include <string_view>
#include <system_error>

#include <boost/json/value.hpp>

#include "store/identity_store.hpp"
#include "thing/topic.hpp"

namespace thingport::platform {

inline constexpr std::size_t max_topo_request = 30; // sub-devices in one thing.topo.add/delete

struct topology_answer {
  std::error_code code{};    // thing::code; empty: 200
  boost::json::value data{}; // [{"productKey","deviceName"}] of the sub-devices concerned
  std::string message{};     // empty: the code's own
};

topology_answer serve_topology(store::identity_store& ids, std::string_view gateway_pk,
                               std::string_view gateway_dn, thing::topic_kind kind,
                               const boost::json::value& params);

} // namespace thingport::platform
