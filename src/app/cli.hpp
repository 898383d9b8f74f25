// The client commands of the `thingport` binary (README.md):
//   product create NAME | product list | product show PK
//   device create PK [DN] | device batch PK --count N [--prefix P] | device list PK
//   device show|disable|enable|delete PK DN
//   pub PK DN TOPIC PAYLOAD [--qos 1]
// are thin clients of the HTTP API (--api URL / THINGPORT_API, default http://127.0.0.1:8080;
// --token / THINGPORT_TOKEN, else <--data DIR>/admin.token, default ./data): they print the
// API's JSON answer on stdout and exit 0, or print its message on stderr and exit 1 (2 when the
// server cannot be reached or no token is found).
//   sign --pk --dn --ds [...]
// computes a device's MQTT credentials locally.
#pragma once

#include <memory>
#include <optional>

#include <CLI/CLI.hpp>

namespace thingport::app {

class client_commands {
public:
  // Registers the subcommands on `app`.
  explicit client_commands(CLI::App& app);
  ~client_commands();
  client_commands(const client_commands&) = delete;
  client_commands& operator=(const client_commands&) = delete;

  // After parsing: runs the command given and returns its exit code; nullopt when the command
  // given is none of these.
  std::optional<int> run();

private:
  struct state;
  std::unique_ptr<state> s_;
};

} // namespace thingport::app
