// The other side of the sign check: the ClientId, Username and Password a device or an
// application sends. For `thingport sign`, the device SDK and tests. Pure; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "auth/sign.hpp"

namespace thingport::auth {

struct mqtt_credentials {
  std::string client_id{};
  std::string username{};
  std::string password{};
};

struct device_credential_options {
  std::string_view client_id{}; // <id>; empty: "pk.dn" (what Link SDK 4 sends)
  sign_method method = sign_method::hmacsha256;
  int securemode = 3;
  std::optional<std::string_view> timestamp{}; // left out of the block and the sign when absent
  bool ss = false;                             // adds _ss=1
  unsigned ext = 0;                            // adds ext=N when non-zero
};

// `<id>|securemode=..,signmethod=..[,timestamp=..][,_ss=1][,ext=..]|`, `dn&pk`, hex sign.
mqtt_credentials device_credentials(std::string_view product_key, std::string_view device_name,
                                    std::string_view device_secret,
                                    const device_credential_options& opts = {});

// `<id>|authType=app,signmethod=..,timestamp=..|`, `appKey`, hex sign (docs/protocol.md "The cloud
// side").
mqtt_credentials app_credentials(std::string_view app_key, std::string_view app_secret,
                                 std::string_view client_id, std::string_view timestamp,
                                 sign_method method = sign_method::hmacsha256);

} // namespace thingport::auth
