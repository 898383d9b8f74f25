#include "app/config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <set>
#include <stdexcept>
#include <string_view>

#include <toml++/toml.h>

#include "net/listener.hpp"

namespace thingport::app {

std::chrono::seconds parse_duration(const std::string& text) {
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || p == text.data())
    throw std::runtime_error("bad duration '" + text + "'");
  const std::string unit(p, text.data() + text.size());
  std::uint64_t mult = 1;
  if (unit.empty() || unit == "s")
    mult = 1;
  else if (unit == "m")
    mult = 60;
  else if (unit == "h")
    mult = 3600;
  else if (unit == "d")
    mult = 86400;
  else
    throw std::runtime_error("bad duration unit in '" + text + "' (use s, m, h or d)");
  return std::chrono::seconds(n * mult);
}

std::uint64_t parse_size(const std::string& text) {
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || p == text.data())
    throw std::runtime_error("bad size '" + text + "'");
  std::string unit(p, text.data() + text.size());
  if (unit.ends_with("iB"))
    unit.erase(unit.size() - 2, 1); // "MiB" -> "MB"
  unsigned shift = 0;
  if (unit.empty() || unit == "B")
    shift = 0;
  else if (unit == "K" || unit == "KB")
    shift = 10;
  else if (unit == "M" || unit == "MB")
    shift = 20;
  else if (unit == "G" || unit == "GB")
    shift = 30;
  else if (unit == "T" || unit == "TB")
    shift = 40;
  else
    throw std::runtime_error("bad size unit in '" + text + "' (use B, KB, MB, GB or TB)");
  if (shift != 0 && n > (std::numeric_limits<std::uint64_t>::max() >> shift))
    throw std::runtime_error("size '" + text + "' is too large");
  return n << shift;
}

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& key, const std::string& what) {
  throw std::runtime_error(path + ": " + key + ": " + what);
}

void check_keys(const toml::table& t, const std::string& path, const std::string& where,
                const std::set<std::string>& allowed) {
  for (const auto& [k, v] : t) {
    if (!allowed.count(std::string(k.str())))
      fail(path, where.empty() ? std::string(k.str()) : where + "." + std::string(k.str()),
           "unknown key");
  }
}

template <class T>
void read(const toml::table& t, const char* key, T& out, const std::string& path,
          const std::string& where) {
  const auto* node = t.get(key);
  if (node == nullptr)
    return;
  if constexpr (std::is_same_v<T, bool>) {
    if (!node->is_boolean())
      fail(path, where + "." + key, "expected true or false");
    out = **node->as_boolean();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!node->is_string())
      fail(path, where + "." + key, "expected a string");
    out = **node->as_string();
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    if (!node->is_array())
      fail(path, where + "." + key, "expected an array of strings");
    out.clear();
    for (const auto& e : *node->as_array()) {
      if (!e.is_string())
        fail(path, where + "." + key, "expected an array of strings");
      out.push_back(**e.as_string());
    }
  } else {
    if (!node->is_integer())
      fail(path, where + "." + key, "expected an integer");
    const auto v = **node->as_integer();
    if (v < 0 || static_cast<std::uint64_t>(v) > std::numeric_limits<T>::max())
      fail(path, where + "." + key, "out of range");
    out = static_cast<T>(v);
  }
}

// A size: an integer of bytes or a string parse_size() reads.
void read_size(const toml::table& t, const char* key, std::uint64_t& out, const std::string& path,
               const std::string& where) {
  const auto* node = t.get(key);
  if (node == nullptr)
    return;
  if (node->is_string()) {
    try {
      out = parse_size(**node->as_string());
    } catch (const std::runtime_error& e) {
      fail(path, where + "." + key, e.what());
    }
    return;
  }
  read(t, key, out, path, where);
}

// A listener: its address, or a table `{ address = "host:port", proxy_protocol = true }`.
void read_listener(const toml::table& t, const char* key, std::string& address, bool& proxy,
                   const std::string& path) {
  const auto* node = t.get(key);
  if (node == nullptr || node->is_string())
    return read(t, key, address, path, "listeners");
  const std::string where = std::string("listeners.") + key;
  if (!node->is_table())
    fail(path, where,
         "expected \"host:port\" or { address = \"host:port\", proxy_protocol = ... }");
  const auto& lt = *node->as_table();
  check_keys(lt, path, where, {"address", "proxy_protocol"});
  if (lt.get("address") == nullptr)
    fail(path, where + ".address", "missing: the listener's \"host:port\" (\"\" turns it off)");
  read(lt, "address", address, path, where);
  read(lt, "proxy_protocol", proxy, path, where);
}

const toml::table* section(const toml::table& root, const char* name, const std::string& path) {
  const auto* node = root.get(name);
  if (node == nullptr)
    return nullptr;
  if (!node->is_table())
    fail(path, name, "expected a table");
  return node->as_table();
}

} // namespace

config load_config(const std::string& path) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw std::runtime_error(path + ": " + std::string(e.description()) + " at line " +
                             std::to_string(e.source().begin.line));
  }
  config c;
  check_keys(root, path, "",
             {"data_dir", "listeners", "tls", "auth", "http", "limits", "store", "cluster",
              "server", "log", "thing", "ota"});
  read(root, "data_dir", c.data_dir, path, "");
  if (const auto* t = section(root, "listeners", path)) {
    check_keys(*t, path, "listeners", {"tcp", "tls", "ws", "wss", "auto", "ws_origins"});
    auto& proxy = c.listeners.proxy_protocol;
    read_listener(*t, "tcp", c.listeners.tcp, proxy.tcp, path);
    read_listener(*t, "tls", c.listeners.tls, proxy.tls, path);
    read_listener(*t, "ws", c.listeners.ws, proxy.ws, path);
    read_listener(*t, "wss", c.listeners.wss, proxy.wss, path);
    read_listener(*t, "auto", c.listeners.auto_, proxy.auto_, path);
    read(*t, "ws_origins", c.listeners.ws_origins, path, "listeners");
  }
  if (const auto* t = section(root, "tls", path)) {
    check_keys(*t, path, "tls", {"cert", "key"});
    read(*t, "cert", c.tls.cert, path, "tls");
    read(*t, "key", c.tls.key, path, "tls");
  }
  if (const auto* t = section(root, "auth", path)) {
    check_keys(*t, path, "auth", {"allow_anonymous", "deny_subscribe"});
    read(*t, "allow_anonymous", c.auth.allow_anonymous, path, "auth");
    if (const auto* n = t->get("deny_subscribe")) {
      if (!n->is_array())
        fail(path, "auth.deny_subscribe", "expected an array of strings");
      for (const auto& e : *n->as_array()) {
        if (!e.is_string())
          fail(path, "auth.deny_subscribe", "expected an array of strings");
        c.auth.deny_subscribe.push_back(**e.as_string());
      }
    }
  }
  if (const auto* t = section(root, "http", path)) {
    check_keys(*t, path, "http", {"listen", "token", "max_connections", "max_connections_per_ip"});
    read(*t, "listen", c.http.listen, path, "http");
    read(*t, "token", c.http.token, path, "http");
    read(*t, "max_connections", c.http.max_connections, path, "http");
    read(*t, "max_connections_per_ip", c.http.max_connections_per_ip, path, "http");
    if (c.http.max_connections == 0)
      fail(path, "http.max_connections", "must be at least 1");
    if (c.http.max_connections_per_ip == 0)
      fail(path, "http.max_connections_per_ip", "must be at least 1");
  }
  if (const auto* t = section(root, "limits", path)) {
    check_keys(*t, path, "limits",
               {"max_payload",
                "keepalive_min",
                "keepalive_max",
                "offline_queue",
                "offline_ttl",
                "connect_rate",
                "offline_queue_bytes",
                "max_outbound",
                "max_connect_size",
                "max_retained",
                "max_retained_bytes",
                "max_subscriptions",
                "max_inflight_in",
                "max_inflight_out",
                "login_failures",
                "max_app_sessions",
                "max_anonymous_sessions",
                "offline_total_bytes",
                "overload",
                "slow_consumer",
                "max_firmware",
                "subdevice_logins_per_second"});
    read_size(*t, "max_firmware", c.limits.max_firmware, path, "limits");
    read(*t, "max_payload", c.limits.max_payload, path, "limits");
    read(*t, "keepalive_min", c.limits.keepalive_min, path, "limits");
    read(*t, "keepalive_max", c.limits.keepalive_max, path, "limits");
    read(*t, "connect_rate", c.limits.connect_rate, path, "limits");
    read(*t, "offline_queue", c.limits.offline_queue, path, "limits");
    read_size(*t, "offline_queue_bytes", c.limits.offline_queue_bytes, path, "limits");
    read_size(*t, "max_outbound", c.limits.max_outbound, path, "limits");
    read_size(*t, "offline_total_bytes", c.limits.offline_total_bytes, path, "limits");
    read_size(*t, "max_connect_size", c.limits.max_connect_size, path, "limits");
    read(*t, "max_retained", c.limits.max_retained, path, "limits");
    read_size(*t, "max_retained_bytes", c.limits.max_retained_bytes, path, "limits");
    read(*t, "max_subscriptions", c.limits.max_subscriptions, path, "limits");
    read(*t, "max_inflight_in", c.limits.max_inflight_in, path, "limits");
    read(*t, "max_inflight_out", c.limits.max_inflight_out, path, "limits");
    read(*t, "login_failures", c.limits.login_failures, path, "limits");
    read(*t, "subdevice_logins_per_second", c.limits.subdevice_logins_per_second, path, "limits");
    read(*t, "max_app_sessions", c.limits.max_app_sessions, path, "limits");
    read(*t, "max_anonymous_sessions", c.limits.max_anonymous_sessions, path, "limits");
    if (c.limits.max_outbound < 4096)
      fail(path, "limits.max_outbound", "must be at least 4096");
    if (c.limits.max_connect_size < 512 || c.limits.max_connect_size > 268435455)
      fail(path, "limits.max_connect_size", "must be 512..268435455");
    if (c.limits.max_subscriptions == 0)
      fail(path, "limits.max_subscriptions", "must be at least 1");
    if (c.limits.max_inflight_in == 0)
      fail(path, "limits.max_inflight_in", "must be at least 1");
    // Each acknowledgement looks its packet id up among them: a window, not a queue.
    if (c.limits.max_inflight_out == 0 || c.limits.max_inflight_out > 1024)
      fail(path, "limits.max_inflight_out", "must be 1..1024");
    std::string ttl;
    read(*t, "offline_ttl", ttl, path, "limits");
    if (!ttl.empty())
      c.limits.offline_ttl = parse_duration(ttl);
    read(*t, "overload", c.limits.overload, path, "limits");
    if (c.limits.overload != "backpressure" && c.limits.overload != "drop")
      fail(path, "limits.overload", "must be \"backpressure\" or \"drop\"");
    std::string slow;
    read(*t, "slow_consumer", slow, path, "limits");
    if (!slow.empty())
      c.limits.slow_consumer = parse_duration(slow);
    if (c.limits.slow_consumer.count() == 0)
      fail(path, "limits.slow_consumer", "must be at least 1s");
    if (c.limits.max_payload == 0 || c.limits.max_payload > 268435455 - 65540)
      fail(path, "limits.max_payload", "must be 1..268369915");
    if (c.limits.keepalive_min > c.limits.keepalive_max)
      fail(path, "limits.keepalive_min", "greater than keepalive_max");
  }
  if (const auto* t = section(root, "ota", path)) {
    check_keys(*t, path, "ota", {"url_base", "timeout_unit_seconds"});
    read(*t, "url_base", c.ota.url_base, path, "ota");
    read(*t, "timeout_unit_seconds", c.ota.timeout_unit_seconds, path, "ota");
    if (c.ota.timeout_unit_seconds < 1 || c.ota.timeout_unit_seconds > 60)
      fail(path, "ota.timeout_unit_seconds", "must be 1..60");
    if (!c.ota.url_base.empty() && !c.ota.url_base.starts_with("http://") &&
        !c.ota.url_base.starts_with("https://"))
      fail(path, "ota.url_base", "must start with http:// or https://");
    while (c.ota.url_base.ends_with("/"))
      c.ota.url_base.pop_back();
  }
  if (const auto* t = section(root, "store", path)) {
    check_keys(*t, path, "store", {"backend", "url", "password_file", "durability", "disk_budget"});
    read_size(*t, "disk_budget", c.store.disk_budget, path, "store");
    read(*t, "backend", c.store.backend, path, "store");
    read(*t, "url", c.store.url, path, "store");
    read(*t, "password_file", c.store.password_file, path, "store");
    read(*t, "durability", c.store.durability, path, "store");
    if (c.store.backend != "sqlite" && c.store.backend != "postgres")
      fail(path, "store.backend", "must be \"sqlite\" or \"postgres\"");
    if (c.store.backend == "postgres" && c.store.url.empty())
      fail(path, "store.url",
           "required with backend \"postgres\" (postgresql://user@host:5432/database)");
    if (c.store.backend == "sqlite" && (!c.store.url.empty() || !c.store.password_file.empty()))
      fail(path, "store.url", "only for backend \"postgres\"; the SQLite files are in data_dir");
    if (c.store.durability != "sync" && c.store.durability != "async")
      fail(path, "store.durability", "must be \"sync\" or \"async\"");
  }
  if (const auto* t = section(root, "cluster", path)) {
    check_keys(*t, path, "cluster", {"nats", "node", "replicas"});
    read(*t, "nats", c.cluster.nats, path, "cluster");
    read(*t, "node", c.cluster.node, path, "cluster");
    read(*t, "replicas", c.cluster.replicas, path, "cluster");
    if (c.cluster.replicas < 1 || c.cluster.replicas > 5)
      fail(path, "cluster.replicas", "1..5 (JetStream's limit; 3 with three NATS servers)");
    if (!c.cluster.nats.empty()) {
      // "nats://h1:4222,nats://h2:4222": each entry with its scheme, nothing empty between.
      std::string_view rest = c.cluster.nats;
      for (;;) {
        const auto comma = rest.find(',');
        const auto url = rest.substr(0, comma);
        if (!(url.starts_with("nats://") || url.starts_with("tls://")) || url.size() < 8 ||
            url.find_first_of(" \t") != std::string_view::npos)
          fail(path, "cluster.nats",
               "a comma-separated list of nats://host:port (or tls://host:port) URLs");
        if (comma == std::string_view::npos)
          break;
        rest.remove_prefix(comma + 1);
      }
      if (c.store.backend != "postgres")
        fail(path, "cluster.nats",
             "a cluster needs [store] backend = \"postgres\" (every node reads the same devices)");
    }
    const bool name_ok =
        c.cluster.node.size() <= 64 &&
        std::all_of(c.cluster.node.begin(), c.cluster.node.end(), [](unsigned char ch) {
          return std::isalnum(ch) != 0 || ch == '.' || ch == '_' || ch == '-';
        });
    if (!name_ok)
      fail(path, "cluster.node", "at most 64 letters, digits, '.', '_' or '-'");
  }
  // Addresses are checked now, with their key, rather than when the listener opens.
  for (const auto& [key, value] :
       {std::pair{"listeners.tcp", &c.listeners.tcp}, std::pair{"listeners.tls", &c.listeners.tls},
        std::pair{"listeners.ws", &c.listeners.ws}, std::pair{"listeners.wss", &c.listeners.wss},
        std::pair{"listeners.auto", &c.listeners.auto_},
        std::pair{"http.listen", &c.http.listen}}) {
    if (value->empty())
      continue;
    try {
      (void)net::parse_endpoint(*value);
    } catch (const std::exception& e) {
      fail(path, key, e.what());
    }
  }
  if (const auto* t = section(root, "thing", path)) {
    check_keys(*t, path, "thing", {"keep_values", "keep_age", "prune_interval", "max_properties"});
    read(*t, "keep_values", c.thing.keep_values, path, "thing");
    read(*t, "max_properties", c.thing.max_properties, path, "thing");
    std::string age, every;
    read(*t, "keep_age", age, path, "thing");
    read(*t, "prune_interval", every, path, "thing");
    if (!age.empty())
      c.thing.keep_age = parse_duration(age);
    if (!every.empty())
      c.thing.prune_interval = parse_duration(every);
  }
  if (const auto* t = section(root, "server", path)) {
    check_keys(*t, path, "server", {"workers"});
    read(*t, "workers", c.workers, path, "server");
    if (c.workers > 1024)
      fail(path, "server.workers", "must be 0 (one per core) to 1024");
  }
  if (const auto* t = section(root, "log", path)) {
    check_keys(*t, path, "log", {"level"});
    read(*t, "level", c.log_level, path, "log");
    static const std::set<std::string> levels{"trace",   "debug", "info",     "warn",
                                              "warning", "error", "critical", "off"};
    if (!levels.count(c.log_level))
      fail(path, "log.level",
           "unknown level \"" + c.log_level +
               "\" (trace, debug, info, warn, error, critical, off)");
  }
  return c;
}

} // namespace thingport::app
