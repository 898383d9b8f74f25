#include "app/cli.hpp"

#include <cstdio>
#include <functional>
#include <vector>

#include <boost/json.hpp>

#include "app/cli_http.hpp"
#include "app/cli_sign.hpp"
#include "auth/base64.hpp"

namespace thingport::app {

namespace http = boost::beast::http;
namespace json = boost::json;

namespace {

// The bytes of a path segment, percent-encoded where they could change the path's meaning.
std::string segment(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~' || c == '@' || c == ':') {
      out += static_cast<char>(c);
    } else {
      constexpr char hex[] = "0123456789ABCDEF";
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

struct request_spec {
  http::verb method = http::verb::get;
  std::string path;
  std::string body;
};

} // namespace

struct client_commands::state {
  // connection, shared by every API command
  std::string api_url = std::string(default_api_url);
  std::string token;
  std::string data_dir = "./data";
  // arguments
  std::string name, pk, dn, secret, product_key, product_secret, prefix, status, topic, payload;
  std::string node_type;
  bool dynamic_registration = false;
  std::size_t count = 0, offset = 0, limit = 100;
  int qos = 0;
  sign_args sign;
  bool sign_json = false;
  CLI::App* sign_cmd = nullptr;
  // the API commands: the subcommand and how to build its request
  std::vector<std::pair<CLI::App*, std::function<request_spec()>>> api_cmds;

  void connection_options(CLI::App* c) {
    c->add_option("--api", api_url, "API base URL")->envname("THINGPORT_API");
    c->add_option("--token", token, "admin token")->envname("THINGPORT_TOKEN");
    c->add_option("--data", data_dir, "data directory holding admin.token");
  }
  void api_command(CLI::App* c, std::function<request_spec()> build) {
    connection_options(c);
    api_cmds.emplace_back(c, std::move(build));
  }
  std::string page_query() const {
    return "offset=" + std::to_string(offset) + "&limit=" + std::to_string(limit);
  }
  int call(const request_spec& r);
};

int client_commands::state::call(const request_spec& r) {
  return run_api_call(api_url, token, data_dir, r.method, r.path, r.body);
}

client_commands::client_commands(CLI::App& app) : s_(std::make_unique<state>()) {
  auto& s = *s_;
  const auto products = [](std::string_view pk) { return "/api/v1/products/" + segment(pk); };
  const auto device = [products](std::string_view pk, std::string_view dn) {
    return products(pk) + "/devices/" + segment(dn);
  };

  auto* product = app.add_subcommand("product", "manage products (through the HTTP API)");
  product->require_subcommand(1);
  auto* pc = product->add_subcommand("create", "create a product; prints its key and secret");
  pc->add_option("NAME", s.name, "display name")->required();
  pc->add_flag("--dynamic-registration", s.dynamic_registration, "allow dynamic registration");
  pc->add_option("--product-key", s.product_key, "import: the cloud product's key");
  pc->add_option("--product-secret", s.product_secret, "import: the cloud product's secret");
  pc->add_option("--node-type", s.node_type, "device (default), gateway or subdevice")
      ->check(CLI::IsMember({"device", "gateway", "subdevice"}));
  s.api_command(pc, [&s] {
    json::object o{{"name", s.name}, {"dynamicRegistration", s.dynamic_registration}};
    if (!s.node_type.empty())
      o["nodeType"] = s.node_type;
    if (!s.product_key.empty())
      o["productKey"] = s.product_key;
    if (!s.product_secret.empty())
      o["productSecret"] = s.product_secret;
    return request_spec{http::verb::post, "/api/v1/products", json::serialize(o)};
  });
  auto* pl = product->add_subcommand("list", "list products");
  pl->add_option("--offset", s.offset);
  pl->add_option("--limit", s.limit);
  s.api_command(pl, [&s] {
    return request_spec{http::verb::get, "/api/v1/products?" + s.page_query(), {}};
  });
  auto* ps = product->add_subcommand("show", "show a product");
  ps->add_option("PRODUCTKEY", s.pk)->required();
  s.api_command(ps, [&s, products] { return request_spec{http::verb::get, products(s.pk), {}}; });

  auto* dev = app.add_subcommand("device", "manage devices (through the HTTP API)");
  dev->require_subcommand(1);
  auto* dc = dev->add_subcommand("create", "create a device; prints its triplet");
  dc->add_option("PRODUCTKEY", s.pk)->required();
  dc->add_option("DEVICENAME", s.dn, "default: generated");
  dc->add_option("--secret", s.secret, "default: generated");
  s.api_command(dc, [&s, products] {
    json::object o;
    if (!s.dn.empty())
      o["deviceName"] = s.dn;
    if (!s.secret.empty())
      o["deviceSecret"] = s.secret;
    return request_spec{http::verb::post, products(s.pk) + "/devices", json::serialize(o)};
  });
  auto* db = dev->add_subcommand("batch", "create up to 50000 devices at once");
  db->add_option("PRODUCTKEY", s.pk)->required();
  db->add_option("--count", s.count, "how many")->required();
  db->add_option("--prefix", s.prefix, "names PREFIX0001...; default: generated names");
  s.api_command(db, [&s, products] {
    json::object o{{"count", s.count}};
    if (!s.prefix.empty())
      o["prefix"] = s.prefix;
    return request_spec{http::verb::post, products(s.pk) + "/devices/batch", json::serialize(o)};
  });
  auto* dl = dev->add_subcommand("list", "list a product's devices with their status");
  dl->add_option("PRODUCTKEY", s.pk)->required();
  dl->add_option("--status", s.status, "ONLINE, OFFLINE, UNACTIVE or DISABLE");
  dl->add_option("--offset", s.offset);
  dl->add_option("--limit", s.limit, "1 to 1000");
  s.api_command(dl, [&s, products] {
    std::string q = s.page_query();
    if (!s.status.empty())
      q += "&status=" + segment(s.status);
    return request_spec{http::verb::get, products(s.pk) + "/devices?" + q, {}};
  });
  const std::pair<const char*, const char*> per_device[] = {
      {"show", "show a device and its status"},
      {"disable", "disable a device (and disconnect it)"},
      {"enable", "enable a device"},
      {"delete", "delete a device, its session and queued messages"}};
  for (const auto& [verb, help] : per_device) {
    auto* c = dev->add_subcommand(verb, help);
    c->add_option("PRODUCTKEY", s.pk)->required();
    c->add_option("DEVICENAME", s.dn)->required();
    const std::string v = verb;
    s.api_command(c, [&s, device, v] {
      if (v == "show")
        return request_spec{http::verb::get, device(s.pk, s.dn), {}};
      if (v == "delete")
        return request_spec{http::verb::delete_, device(s.pk, s.dn), {}};
      return request_spec{http::verb::post, device(s.pk, s.dn) + "/" + v, {}};
    });
  }

  auto* pub = app.add_subcommand("pub", "send a message to a device (cloud to device)");
  pub->add_option("PRODUCTKEY", s.pk)->required();
  pub->add_option("DEVICENAME", s.dn)->required();
  pub->add_option("TOPIC", s.topic)->required();
  pub->add_option("PAYLOAD", s.payload, "text")->required();
  pub->add_option("--qos", s.qos, "0 or 1")->check(CLI::Range(0, 1));
  s.api_command(pub, [&s] {
    json::object o{{"productKey", s.pk},
                   {"deviceName", s.dn},
                   {"topic", s.topic},
                   {"payload", auth::base64_encode(s.payload)},
                   {"qos", s.qos}};
    return request_spec{http::verb::post, "/api/v1/pub", json::serialize(o)};
  });

  auto* sign = s.sign_cmd =
      app.add_subcommand("sign", "print a device's MQTT clientId, username and password");
  sign->add_option("--pk", s.sign.product_key, "productKey")->required();
  sign->add_option("--dn", s.sign.device_name, "deviceName")->required();
  sign->add_option("--ds", s.sign.device_secret, "deviceSecret")->required();
  sign->add_option("--client-id", s.sign.client_id, "the <id> part; default PK.DN");
  sign->add_option("--method", s.sign.method, "hmacmd5, hmacsha1 or hmacsha256");
  sign->add_option("--securemode", s.sign.securemode, "2 (TLS) or 3 (plain)");
  sign->add_option("--timestamp", s.sign.timestamp, "milliseconds; left out when absent");
  sign->add_option("--host", s.sign.host, "for the mosquitto_pub line");
  sign->add_option("--port", s.sign.port, "for the mosquitto_pub line");
  sign->add_flag("--json", s.sign_json, "print one JSON object");
}

client_commands::~client_commands() = default;

std::optional<int> client_commands::run() {
  auto& s = *s_;
  if (s.sign_cmd->parsed()) {
    try {
      std::fputs(sign_output(s.sign, s.sign_json).c_str(), stdout);
      return 0;
    } catch (const std::invalid_argument& e) {
      std::fprintf(stderr, "thingport: sign: %s\n", e.what());
      return 2;
    }
  }
  for (auto& [cmd, build] : s.api_cmds)
    if (cmd->parsed())
      return s.call(build());
  return std::nullopt;
}

} // namespace thingport::app
