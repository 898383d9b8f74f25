#include "app/cli_node.hpp"

#include <cstdio>
#include <filesystem>

#include <boost/json.hpp>

#include "api/token.hpp"
#include "app/cli_http.hpp"

namespace thingport::app {

struct node_commands::state {
  std::string api_url = std::string(default_api_url);
  std::string token, data_dir = "./data";
  unsigned rate = 500;
  CLI::App* drain = nullptr;

  int run_drain() const {
    const auto ep = parse_api_url(api_url);
    if (!ep) {
      std::fprintf(stderr, "thingport: --api: expected http://HOST[:PORT], got '%s'\n",
                   api_url.c_str());
      return 2;
    }
    std::string tok = token;
    if (tok.empty()) {
      try {
        tok = api::read_token_file(std::filesystem::path(data_dir) / api::token_file_name);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "thingport: no admin token: pass --token or --data (%s)\n", e.what());
        return 2;
      }
    }
    try {
      const auto reply = call_api(*ep, boost::beast::http::verb::post, "/api/v1/cluster/drain", tok,
                                  boost::json::serialize(boost::json::object{{"rate", rate}}));
      if (reply.status >= 200 && reply.status < 300) {
        std::printf("%s\n", reply.body.c_str());
        return 0;
      }
      std::fprintf(stderr, "thingport: %s (HTTP %u)\n", error_message(reply).c_str(), reply.status);
      return 1;
    } catch (const api_unreachable& e) {
      std::fprintf(stderr, "thingport: %s\n", e.what());
      return 2;
    }
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
