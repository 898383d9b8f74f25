// The OTA commands of the `thingport` binary (docs/ota.md), thin clients of the HTTP API with
// the same connection options as the other admin commands (--api, --token, --data):
//   ota upload PK FILE --version V [--module M] [--src-versions a,b]   streamed, with progress
//   ota firmwares PK
//   ota start PK FIRMWAREID [--devices a,b] [--from-versions a,b] [--rate N] [--retries N]
//             [--timeout MINUTES]
//   ota jobs PK | ota status PK JOBID | ota cancel PK JOBID
#pragma once

#include <memory>
#include <optional>

#include <CLI/CLI.hpp>

namespace thingport::app {

class ota_commands {
public:
  explicit ota_commands(CLI::App& app);
  ~ota_commands();
  ota_commands(const ota_commands&) = delete;
  ota_commands& operator=(const ota_commands&) = delete;

  // After parsing: the exit code of the ota command given; nullopt when none was.
  std::optional<int> run();

private:
  struct state;
  std::unique_ptr<state> s_;
};

} // namespace thingport::app
