// `thingport sign`: the clientId, username and password a device sends, computed locally (no
// server), with a ready mosquitto_pub line. Pure; throws std::invalid_argument on bad input.
#pragma once

#include <optional>
#include <string>

namespace thingport::app {

struct sign_args {
  std::string product_key;
  std::string device_name;
  std::string device_secret;
  std::string client_id; // empty: "pk.dn"
  std::string method = "hmacsha256";
  int securemode = 3;
  std::optional<std::string> timestamp;
  std::string host = "127.0.0.1"; // for the mosquitto_pub line
  unsigned port = 1883;
};

// Lines "clientId  ...", "username  ...", "password  ...", then the mosquitto_pub command;
// with `json` one object {"clientId","username","password","mosquittoPub"}. Ends in '\n'.
std::string sign_output(const sign_args& a, bool json);

// 'text' quoted for a POSIX shell.
std::string shell_quote(std::string_view text);

} // namespace thingport::app
