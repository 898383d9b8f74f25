// Dynamic registration over MQTT (authType=register), for register_device() when its URL is an
// MQTT one.
#pragma once

#include "auth/sign.hpp"
#include "thingport/device/registration.hpp"
#include "thingport/device/url.hpp"

namespace thingport::device::detail {

registration_result register_over_mqtt(const registration_request& r, const server_url& url,
                                       auth::sign_method method);

} // namespace thingport::device::detail
