// A device as the API shows it: the store's record joined with the broker's knowledge of who is
// online now (docs/protocol.md "The cloud side" status). Any thread.
#pragma once

#include <string_view>

#include <boost/json/object.hpp>

#include "api/context.hpp"
#include "store/identity_store.hpp"

namespace thingport::api {

// ONLINE / OFFLINE / UNACTIVE / DISABLE. The store's first_online is written after a login, so
// a device the directory already knows as activated is OFFLINE, not UNACTIVE.
store::device_status status_now(context& ctx, const store::device& d);

// {"productKey","deviceName","status","enabled","ip","created","firstOnline","lastOnline",
//  "lastOffline"} (times in ms since the epoch, null when never), plus "deviceSecret" when
// `with_secret`, and "clientId", "transport", "onlineSince" while it is connected.
boost::json::object device_json(context& ctx, const store::device& d, bool with_secret);

} // namespace thingport::api
