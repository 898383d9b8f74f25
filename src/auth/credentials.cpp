#include "auth/credentials.hpp"

#include <string>

namespace thingport::auth {

mqtt_credentials device_credentials(std::string_view product_key, std::string_view device_name,
                                    std::string_view device_secret,
                                    const device_credential_options& opts) {
  std::string id(opts.client_id);
  if (id.empty()) {
    id.append(product_key).append(".").append(device_name);
  }
  mqtt_credentials c;
  c.client_id = id;
  c.client_id.append("|securemode=").append(std::to_string(opts.securemode));
  c.client_id.append(",signmethod=").append(to_string(opts.method));
  if (opts.timestamp) {
    c.client_id.append(",timestamp=").append(*opts.timestamp);
  }
  if (opts.ss) {
    c.client_id.append(",_ss=1");
  }
  if (opts.ext != 0) {
    c.client_id.append(",ext=").append(std::to_string(opts.ext));
  }
  c.client_id.push_back('|');
  c.username.append(device_name).append("&").append(product_key);
  c.password =
      device_sign(opts.method, device_secret, {id, device_name, product_key, opts.timestamp});
  return c;
}

mqtt_credentials app_credentials(std::string_view app_key, std::string_view app_secret,
                                 std::string_view client_id, std::string_view timestamp,
                                 sign_method method) {
  mqtt_credentials c;
  c.client_id.append(client_id).append("|authType=app,signmethod=");
  c.client_id.append(to_string(method)).append(",timestamp=").append(timestamp).append("|");
  c.username = std::string(app_key);
  c.password = app_sign(app_secret, app_key, client_id, timestamp, method);
  return c;
}

} // namespace thingport::auth
