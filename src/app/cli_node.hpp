// `thingport node drain [--rate N]` (docs/cluster.md "Rolling upgrade"): asks a cluster node,
// through its HTTP API, to refuse new logins and close its links at a bounded rate.
#pragma once

#include <memory>
#include <optional>

#include <CLI/CLI.hpp>

namespace thingport::app {

class node_commands {
public:
  explicit node_commands(CLI::App& app);
  ~node_commands();
  node_commands(const node_commands&) = delete;
  node_commands& operator=(const node_commands&) = delete;

  // After parsing: the exit code of the node command given; nullopt when none was.
  std::optional<int> run();

private:
  struct state;
  std::unique_ptr<state> s_;
};

} // namespace thingport::app
