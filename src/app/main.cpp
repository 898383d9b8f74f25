#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "app/config.hpp"
#include "app/serve.hpp"

int main(int argc, char** argv) {
  CLI::App app{"thingport: a self-hosted IoT device-access platform"};
  app.require_subcommand(1);

  std::string config_path;
  std::string data_dir;
  auto* serve = app.add_subcommand("serve", "run the platform");
  serve->add_option("--config", config_path, "TOML config file")->check(CLI::ExistingFile);
  serve->add_option("--data", data_dir, "data directory (overrides data_dir)");

  CLI11_PARSE(app, argc, argv);

  try {
    if (serve->parsed()) {
      auto c = config_path.empty() ? thingport::app::config{}
                                   : thingport::app::load_config(config_path);
      if (!data_dir.empty()) c.data_dir = data_dir;
      return thingport::app::serve(c);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "thingport: %s\n", e.what());
    return 1;
  }
  return 0;
}
