#include <cstdio>
#include <exception>
#include <string>
#include <sys/stat.h>

#include <CLI/CLI.hpp>

#include "app/cert.hpp"
#include "app/cli.hpp"
#include "app/cli_node.hpp"
#include "app/cli_ota.hpp"
#include "app/config.hpp"
#include "app/serve.hpp"
#include "app/store_check.hpp"
#include "app/store_tools.hpp"

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
  thingport::app::ota_commands ota(app);        // ota upload, start, jobs, status, cancel
  thingport::app::node_commands node(app);      // node drain
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
  thingport::app::store_target target;
  std::string target_config;
  std::string copy_from;
  store_check->add_option("--url", target.url, "a PostgreSQL database instead of --data");
  auto* store_migrate = store->add_subcommand(
      "migrate", "bring the schema to this version (as a start does); PostgreSQL or --data");
  store_migrate->add_option("--config", target_config, "take [store] and data_dir from this file");
  store_migrate->add_option("--url", target.url, "postgresql://user@host:port/db");
  store_migrate->add_option("--data", target.data_dir, "data directory (SQLite; default ./data)");
  auto* store_copy = store->add_subcommand(
      "copy", "copy a data directory's SQLite identity.db into an empty PostgreSQL database");
  store_copy->add_option("--from", copy_from, "data directory")->required();
  store_copy->add_option("--to", target.url, "postgresql://user@host:port/db")->required();
  for (auto* sub : {store_check, store_migrate, store_copy})
    sub->add_option("--password-file", target.password_file, "PostgreSQL password file");

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
    if (auto rc = node.run())
      return *rc;
    if (auto rc = ota.run())
      return *rc;
    if (cert_dev->parsed())
      return thingport::app::cert_dev_command(dev_cert);
    if (store_check->parsed())
      return target.url.empty() ? thingport::app::store_check_command(check_dir)
                                : thingport::app::store_check_pg_command(target);
    if (store_migrate->parsed()) {
      if (!target_config.empty()) {
        const auto c = thingport::app::load_config(target_config);
        if (target.url.empty() && c.store.backend == "postgres") {
          target.url = c.store.url;
          target.password_file = c.store.password_file;
        }
        target.data_dir = c.data_dir;
      }
      return thingport::app::store_migrate_command(target);
    }
    if (store_copy->parsed())
      return thingport::app::store_copy_command(copy_from, target);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "thingport: %s\n", e.what());
    return 1;
  }
  return 0;
}
