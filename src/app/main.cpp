#include <cstdio>
#include <exception>
#include <string>
#include <sys/stat.h>

#include <CLI/CLI.hpp>

#include "app/cert.hpp"
#include "app/cli.hpp"
#include "app/config.hpp"
#include "app/serve.hpp"
#include "app/store_check.hpp"

int main(int argc, char** argv) {
  // What thingport creates (databases with device secrets, the admin token, keys) is the
  // owner's alone (docs/security.md).
  ::umask(077);
  CLI::App app{"thingport: a self-hosted IoT device-access platform"};
  app.require_subcommand(1);

  std::string config_path;
  std::string data_dir;
  auto* serve = app.add_subcommand("serve", "run the platform");
  serve->add_option("--config", config_path, "TOML config file")->check(CLI::ExistingFile);
  serve->add_option("--data", data_dir, "data directory (overrides data_dir)");
  thingport::app::client_commands clients(app); // product, device, pub, sign
  thingport::app::dev_cert_request dev_cert;
  auto* cert = app.add_subcommand("cert", "TLS certificates")->require_subcommand(1);
  auto* cert_dev = cert->add_subcommand("dev", "write a development CA and server certificate");
  cert_dev->add_option("--data", dev_cert.dir, "directory to write to (default ./data)");
  cert_dev->add_option("--host", dev_cert.hosts, "another name or address for the server");

  std::string check_dir = "./data";
  auto* store =
      app.add_subcommand("store", "the data directory's databases")->require_subcommand(1);
  auto* store_check = store->add_subcommand("check", "verify the databases (integrity check)");
  store_check->add_option("--data", check_dir, "data directory (default ./data)");

  app.set_version_flag("--version", std::string("thingport ") + THINGPORT_VERSION + " (" +
                                        THINGPORT_COMMIT + ")");
  // Usage errors exit 2 (CLI11 has its own numbers), runtime errors 1, --help and --version 0.
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  try {
    if (serve->parsed()) {
      auto c =
          config_path.empty() ? thingport::app::config{} : thingport::app::load_config(config_path);
      if (!data_dir.empty())
        c.data_dir = data_dir;
      return thingport::app::serve(c);
    }
    if (auto rc = clients.run())
      return *rc;
    if (cert_dev->parsed())
      return thingport::app::cert_dev_command(dev_cert);
    if (store_check->parsed())
      return thingport::app::store_check_command(check_dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "thingport: %s\n", e.what());
    return 1;
  }
  return 0;
}
