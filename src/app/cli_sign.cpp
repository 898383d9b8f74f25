#include "app/cli_sign.hpp"

#include <stdexcept>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "auth/credentials.hpp"
#include "auth/identity.hpp"

namespace thingport::app {

std::string shell_quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::string sign_output(const sign_args& a, bool json) {
  if (!auth::valid_product_key(a.product_key))
    throw std::invalid_argument("--pk: not a valid productKey");
  if (!auth::valid_device_name(a.device_name))
    throw std::invalid_argument("--dn: not a valid deviceName (4 to 32 of [A-Za-z0-9_-@.:])");
  if (a.device_secret.empty())
    throw std::invalid_argument("--ds: the deviceSecret is empty");
  const auto method = auth::parse_sign_method(a.method);
  if (!method)
    throw std::invalid_argument("--method: hmacmd5, hmacsha1 or hmacsha256");
  if (a.timestamp &&
      (a.timestamp->empty() || a.timestamp->find_first_not_of("0123456789") != std::string::npos))
    throw std::invalid_argument("--timestamp: milliseconds since the epoch, digits only");
  auth::device_credential_options o;
  o.client_id = a.client_id;
  o.method = *method;
  o.securemode = a.securemode;
  if (a.timestamp)
    o.timestamp = *a.timestamp;
  const auto c = auth::device_credentials(a.product_key, a.device_name, a.device_secret, o);
  const std::string pub =
      fmt::format("mosquitto_pub -h {} -p {} -i {} -u {} -P {} -t {} -m 'hello' -V mqttv311",
                  shell_quote(a.host), a.port, shell_quote(c.client_id), shell_quote(c.username),
                  shell_quote(c.password),
                  shell_quote("/" + a.product_key + "/" + a.device_name + "/user/update"));
  if (json) {
    return boost::json::serialize(boost::json::object{{"clientId", c.client_id},
                                                      {"username", c.username},
                                                      {"password", c.password},
                                                      {"mosquittoPub", pub}}) +
           "\n";
  }
  return fmt::format("clientId  {}\nusername  {}\npassword  {}\n{}\n", c.client_id, c.username,
                     c.password, pub);
}

} // namespace thingport::app
