#include "app/cli_node.hpp"

#include <boost/json.hpp>

#include "app/cli_http.hpp"

namespace thingport::app {

struct node_commands::state {
  std::string api_url = std::string(default_api_url);
  std::string token, data_dir = "./data";
  unsigned rate = 500;
  CLI::App* drain = nullptr;

  int run_drain() const {
    return run_api_call(api_url, token, data_dir, boost::beast::http::verb::post,
                        "/api/v1/cluster/drain",
                        boost::json::serialize(boost::json::object{{"rate", rate}}));
  }
};

node_commands::node_commands(CLI::App& app) : s_(std::make_unique<state>()) {
  auto& s = *s_;
  auto* node = app.add_subcommand("node", "this cluster node (through the HTTP API)");
  s.drain = node->add_subcommand(
      "drain", "refuse new logins and close this node's links at a bounded rate (rolling upgrade)");
  s.drain->add_option("--rate", s.rate, "links closed per second (default 500)")
      ->check(CLI::Range(1u, 100'000u));
  s.drain->add_option("--api", s.api_url, "API base URL")->envname("THINGPORT_API");
  s.drain->add_option("--token", s.token, "admin token")->envname("THINGPORT_TOKEN");
  s.drain->add_option("--data", s.data_dir, "data directory holding admin.token");
  node->require_subcommand(1);
}

node_commands::~node_commands() = default;

std::optional<int> node_commands::run() {
  if (s_->drain->parsed())
    return s_->run_drain();
  return std::nullopt;
}

} // namespace thingport::app
