#include "app/serve.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

#include <chrono>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/server.hpp"
#include "api/token.hpp"
#include "app/bootstrap.hpp"
#include "auth/lookup.hpp"
#include "broker/broker.hpp"
#include "cluster/failover.hpp"
#include "cluster/node.hpp"
#include "cluster/session_rescue.hpp"
#include "net/listener.hpp"
#include "net/listener_set.hpp"
#include "platform/device_policy.hpp"
#include "platform/directory.hpp"
#include "platform/ota_service.hpp"
#include "platform/services.hpp"
#include "platform/thing_service.hpp"
#include "store/ota_store.hpp"
#include "store/pg_store.hpp"
#include "store/session_pg.hpp"
#include "store/session_sqlite.hpp"
#include "store/session_writer.hpp"
#include "store/sqlite_connection.hpp"
#include "store/sqlite_identity_store.hpp"
#include "store/thing_sqlite.hpp"

namespace thingport::app {

namespace {

// Tests and scripts wait for these lines to learn the bound ports.
void announce(const char* kind, const boost::asio::ip::tcp::endpoint& ep) {
  std::printf("thingport: listening %s %s\n", kind, net::to_string(ep).c_str());
  std::fflush(stdout);
}

// [tls] cert and key may be relative to the data directory, where `thingport cert dev` puts them.
std::string in_data_dir(const config& c, const std::string& path) {
  if (path.empty() || std::filesystem::path(path).is_absolute())
    return path;
  return (std::filesystem::path(c.data_dir) / path).string();
}

// [cluster] node, or the host's name (as `hostname` prints it).
std::string node_name(const config& c) {
  if (!c.cluster.node.empty())
    return c.cluster.node;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
    return "thingport";
  return host;
}

// The persistent sessions: data/sessions.db; in a cluster, this node's rows in PostgreSQL (docs/
// cluster.md "When a node never comes back"), into which a sessions.db left from before is
// copied once (the file is then renamed sessions.db.imported).
std::unique_ptr<store::session_store> open_session_store(const config& c, bool sync) {
  const auto file = std::filesystem::path(c.data_dir) / "sessions.db";
  if (c.cluster.nats.empty())
    return std::make_unique<store::sqlite_session_store>(
        file, store::sqlite_session_options{.sync = sync});
  const auto node = node_name(c);
  auto shared = std::make_unique<store::pg_session_store>(
      store::pg::options{.url = c.store.url, .password_file = c.store.password_file}, node,
      store::pg_session_options{.sync = sync});
  if (!std::filesystem::exists(file))
    return shared;
  auto held = shared->counts();
  if (!held)
    throw store::open_error("the PostgreSQL session store: " + held.error().message());
  if (held->sessions != 0) {
    spdlog::warn("{} is not copied into PostgreSQL: node {} has sessions there already",
                 file.string(), node);
    return shared;
  }
  store::result<store::session_counts> copied = store::session_counts{};
  {
    store::sqlite_session_store old(file, {.sync = true});
    copied = store::copy_sessions(old, *shared);
  }
  if (!copied)
    throw store::open_error("session database " + file.string() +
                            ": cannot copy it into PostgreSQL: " + copied.error().message());
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const auto from = file.string() + suffix;
    std::error_code ec;
    if (std::filesystem::exists(from, ec))
      std::filesystem::rename(from, file.string() + ".imported" + suffix);
  }
  spdlog::info("copied the {} sessions ({} messages) of {} into PostgreSQL, where node {} keeps "
               "them now; the file is {}.imported",
               copied->sessions, copied->messages, file.string(), node, file.string());
  return shared;
}

// Open MQTT connections: accepted minus closed (statistics, read apart).
std::uint64_t open_connections(const broker::broker& b) {
  const auto accepted = b.total(&broker::counters::connections);
  std::uint64_t closed = 0;
  for (std::size_t i = 0; i < static_cast<std::size_t>(broker::close_reason::count_); ++i)
    closed += b.total_closes(static_cast<broker::close_reason>(i));
  return accepted > closed ? accepted - closed : 0;
}

// The cluster link as the API shows it.
class cluster_view final : public api::cluster_view {
public:
  // `drained`: once, when this node starts draining (its MQTT listeners close).
  cluster_view(cluster::node& n, const cluster::rescue_stats& r, std::function<void()> drained)
      : n_(n), r_(r), drained_(std::move(drained)) {}
  std::vector<member> members() const override {
    std::vector<member> out;
    for (auto& m : n_.nodes())
      out.push_back({std::move(m.node), m.up, m.connections, m.devices_online, m.draining});
    return out;
  }
  traffic counts() const override {
    const auto& s = n_.stats();
    return {s.out.load(),
            s.in.load(),
            s.dropped.load(),
            s.duplicates.load(),
            s.unconfirmed.load(),
            s.retained_loaded.load(),
            s.retained_unkept.load(),
            s.claims_late.load(),
            r_.sessions.load(),
            r_.messages.load()};
  }
  bool linked() const override { return n_.linked(); }
  bool drain(unsigned per_second) const override {
    if (!n_.drain(per_second))
      return false;
    drained_();
    return true;
  }

private:
  cluster::node& n_;
  const cluster::rescue_stats& r_;
  std::function<void()> drained_;
};

// [cluster] nats: the link to the other nodes. A registry change made here is announced; one
// made elsewhere is read again from the store, and a device it disabled or deleted is closed
// here too. `svc` is set once the platform's services exist (before start()).
std::unique_ptr<cluster::node>
make_cluster(const config& c, broker::broker& b, platform::directory& dir,
             platform::services* const& svc, platform::thing_service* const& things,
             platform::config_service* const& configs, platform::ota_service* const& ota) {
  if (c.cluster.nats.empty())
    return nullptr;
  const auto name = node_name(c);
  const bool name_ok =
      name.size() <= 64 && std::all_of(name.begin(), name.end(), [](unsigned char ch) {
        return std::isalnum(ch) != 0 || ch == '.' || ch == '_' || ch == '-';
      });
  if (!name_ok)
    throw std::runtime_error("the host name \"" + name +
                             "\" cannot name a cluster node: set [cluster] node (at most 64 "
                             "letters, digits, '.', '_' or '-')");
  cluster::node_options o;
  o.servers = c.cluster.nats;
  o.name = name;
  o.replicas = static_cast<int>(c.cluster.replicas);
  o.load = [&b, &dir] { return cluster::node_load{open_connections(b), dir.online_count()}; };
  o.on_registry = [&dir, &svc, &things, &configs, &ota](const cluster::registry_change& ch) {
    try {
      if (ch.kind == "model") {
        if (things != nullptr)
          things->forget_model(ch.a);
        return;
      }
      if (ch.kind == "config") { // a remote configuration added or deleted: ch.a its product
        if (configs != nullptr)
          configs->reload(ch.a);
        return;
      }
      if (ch.kind == "firmware") { // deleted: this node's copy of the file goes too
        if (ota != nullptr)
          ota->files().remove(ch.a);
        return;
      }
      if (ch.kind == "config-reply") { // a push_reply for a push of ours, maybe
        if (configs != nullptr)
          configs->record_remote_reply(ch.a, ch.b);
        return;
      }
      const bool may_log_in = dir.refresh(ch.kind, ch.a, ch.b);
      if (ch.kind == "device" && !may_log_in && svc != nullptr) {
        auth::device_record rec;
        const bool gone = dir.find_device(ch.a, ch.b, rec) != auth::lookup_status::found;
        svc->disconnect_device(ch.a, ch.b, broker::close_reason::kicked, gone);
      }
    } catch (const std::exception& e) {
      spdlog::error("cluster: applying another node's {} change: {}", ch.kind, e.what());
    }
  };
  auto link = std::make_unique<cluster::node>(b, std::move(o));
  b.attach_bridge(*link);
  return link;
}

net::listener_config listener_config_of(const config& c) {
  const auto& l = c.listeners;
  net::listener_config n{l.tcp,
                         l.tls,
                         l.ws,
                         l.wss,
                         l.auto_,
                         in_data_dir(c, c.tls.cert),
                         in_data_dir(c, c.tls.key),
                         l.ws_origins};
  n.proxy_tcp = l.proxy_protocol.tcp;
  n.proxy_tls = l.proxy_protocol.tls;
  n.proxy_ws = l.proxy_protocol.ws;
  n.proxy_wss = l.proxy_protocol.wss;
  n.proxy_auto = l.proxy_protocol.auto_;
  return n;
}

} // namespace

// The stores need to write (WAL files, commits): say so plainly rather than let SQLite say
// "unable to open database file" about the first of them.
static void require_writable(const std::string& dir) {
  const auto probe = std::filesystem::path(dir) / ".thingport-write-test";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    throw std::runtime_error("data directory " + dir + " is not writable (" + std::strerror(errno) +
                             "); thingport keeps its databases there");
  ::close(fd);
  ::unlink(probe.c_str());
}

// The data dir holds plaintext device secrets and the admin token: the directory is 0700 and
// every file in it 0600, whatever an older version or a copy left (docs/security.md).
static void secure_data_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto tighten = [](const fs::path& p, fs::perms want) {
    std::error_code e;
    const auto st = fs::status(p, e);
    if (e)
      return;
    const auto loose = st.permissions() & (fs::perms::group_all | fs::perms::others_all);
    if (loose == fs::perms::none)
      return;
    fs::permissions(p, want, fs::perm_options::replace, e);
    if (e)
      spdlog::warn("{} is readable by others and cannot be made private: {}", p.string(),
                   e.message());
    else
      spdlog::warn("{} was readable by others: now {}", p.string(),
                   want == fs::perms::owner_all ? "0700" : "0600");
  };
  tighten(dir, fs::perms::owner_all);
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file(ec))
      tighten(e.path(), fs::perms::owner_read | fs::perms::owner_write);
}

// The identity and thing stores of [store] backend.
struct stores {
  std::unique_ptr<store::identity_store> identities;
  std::unique_ptr<store::thing_store> things;
};

// SQLite: both in data/identity.db. PostgreSQL: the server may come up after us (a machine
// booting both), so an unreachable one is retried with backoff (1 s doubling to 30 s) for up to
// five minutes, saying so each time; a SIGINT/SIGTERM meanwhile ends the wait (nullopt).
std::optional<stores> open_stores(const config& c, const store::retention& keep,
                                  boost::asio::io_context& io, boost::asio::signal_set& signals) {
  if (c.store.backend != "postgres") {
    const auto file = std::filesystem::path(c.data_dir) / "identity.db";
    auto ids = std::make_unique<store::sqlite_identity_store>(file);
    auto things = std::make_unique<store::sqlite_thing_store>(
        file, store::sqlite_thing_options{.keep = keep});
    return stores{std::move(ids), std::move(things)};
  }
  const store::pg::options po{.url = c.store.url, .password_file = c.store.password_file};
  auto delay = std::chrono::seconds(1);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  bool stopped = false;
  signals.async_wait([&](boost::system::error_code ec, int) { stopped = !ec; });
  for (;;) {
    try {
      auto ids = std::make_unique<store::pg_identity_store>(po);
      auto things = std::make_unique<store::pg_thing_store>(po, keep);
      spdlog::info("store: PostgreSQL at {}", store::pg::redact(c.store.url));
      signals.cancel(); // the wait above ends (operation_aborted); serve() waits anew
      io.poll();
      io.restart();
      if (stopped)
        return std::nullopt;
      return stores{std::move(ids), std::move(things)};
    } catch (const store::pg::unreachable& e) {
      if (std::chrono::steady_clock::now() + delay > give_up)
        throw;
      spdlog::warn("{}; retrying in {} s", e.what(), delay.count());
    }
    io.run_for(delay);
    io.restart();
    if (stopped)
      return std::nullopt;
    delay = std::min(delay * 2, std::chrono::seconds(30));
  }
}

int serve(const config& c) {
  // Caught from here on (queued until main_io runs): a SIGTERM right after the "listening"
  // lines, which tests wait for, must still shut down cleanly.
  boost::asio::io_context main_io;
  boost::asio::signal_set signals(main_io, SIGINT, SIGTERM);
  spdlog::set_level(spdlog::level::from_str(c.log_level));
  std::filesystem::create_directories(c.data_dir);
  require_writable(c.data_dir);
  secure_data_dir(c.data_dir);
  // An empty sessions.db refuses the start too (sqlite_connection.cpp), but only when it is
  // opened, after identity.db: a missing identity.db would first be created with a new demo
  // device. Check both before either is opened.
  for (const auto& [name, what] : {std::pair{"identity.db", "identity database"},
                                   std::pair{"sessions.db", "session database"}})
    store::sqlite::refuse_empty(std::filesystem::path(c.data_dir) / name, what);

  broker::options o;
  o.workers = c.workers;
  o.max_payload = c.limits.max_payload;
  o.max_queued = c.limits.offline_queue;
  o.max_queued_bytes = static_cast<std::size_t>(c.limits.offline_queue_bytes);
  o.disk_budget = c.store.disk_budget;
  o.offline_ttl = c.limits.offline_ttl;
  o.max_outbound_bytes = static_cast<std::size_t>(c.limits.max_outbound);
  o.max_queued_total = c.limits.offline_total_bytes;
  o.max_connect_size = static_cast<std::size_t>(c.limits.max_connect_size);
  o.max_retained = static_cast<std::size_t>(c.limits.max_retained);
  o.max_retained_bytes = static_cast<std::size_t>(c.limits.max_retained_bytes);
  o.max_inbound_qos1 = c.limits.max_inflight_in;
  o.max_inflight = c.limits.max_inflight_out;
  o.overload = c.limits.overload == "drop" ? broker::overload_mode::drop
                                           : broker::overload_mode::backpressure;
  o.slow_consumer = c.limits.slow_consumer;
  store::retention keep;
  keep.max_values = keep.max_events = c.thing.keep_values;
  keep.max_age = c.thing.keep_age;
  keep.max_properties = c.thing.max_properties;
  auto opened = open_stores(c, keep, main_io, signals);
  if (!opened)
    return 0; // told to stop while waiting for PostgreSQL
  store::identity_store& identities = *opened->identities;
  store::thing_store& thing_db = *opened->things;
  platform::directory dir(identities);
  dir.load();
  if (auto demo = ensure_demo_device(dir))
    print_demo(*demo, c);
  spdlog::info("{} devices loaded", dir.device_count());

  platform::device_policy_options po;
  po.login.allow_anonymous = c.auth.allow_anonymous;
  po.login.keepalive_min = c.limits.keepalive_min;
  po.login.keepalive_max = c.limits.keepalive_max;
  po.deny_subscribe = c.auth.deny_subscribe;
  po.connect_rate = c.limits.connect_rate;
  po.max_generic_subscriptions = c.limits.max_subscriptions;
  po.login_failures = c.limits.login_failures;
  po.max_app_sessions = static_cast<std::size_t>(c.limits.max_app_sessions);
  po.max_generic_sessions = static_cast<std::size_t>(c.limits.max_anonymous_sessions);
  auto policy = std::make_shared<platform::device_policy>(dir, po);
  // Persistent sessions (issue 8): declared before the broker, which stops the writer.
  const bool sync = c.store.durability != "async";
  auto session_db = open_session_store(c, sync);
  store::session_writer session_writer(*session_db);
  broker::broker b(o, policy);
  policy->attach(b);
  platform::services* services_ptr = nullptr; // for the cluster link, set below
  platform::thing_service* things_ptr = nullptr;
  platform::config_service* configs_ptr = nullptr;
  platform::ota_service* ota_ptr = nullptr;
  auto link = make_cluster(c, b, dir, services_ptr, things_ptr, configs_ptr, ota_ptr);
  // A dead node's devices and wills (docs/cluster.md): the links this node holds, recorded.
  std::unique_ptr<cluster::failover> failover;
  if (link) {
    cluster::failover_options fo;
    fo.db = {.url = c.store.url, .password_file = c.store.password_file};
    fo.device_of = [](const broker::client_identity& who)
        -> std::optional<std::pair<std::string, std::string>> {
      const auto li = platform::device_login(who);
      if (!li || li->product_key.empty() || li->device_name.empty())
        return std::nullopt;
      return std::pair{std::string(li->product_key), std::string(li->device_name)};
    };
    fo.device_lost = [p = policy.get()](const std::string& pk, const std::string& dn) {
      p->lost_elsewhere(pk, dn);
    };
    failover = std::make_unique<cluster::failover>(b, *link, std::move(fo));
    link->track(failover.get());
    policy->observe_subs(
        [f = failover.get()](const store::device_ref& sub, std::uint64_t serial, bool online) {
          if (online)
            f->sub_up(serial, sub.product_key, sub.device_name);
          else
            f->sub_down(serial, sub.product_key, sub.device_name);
        });
  }
  // A dead node's sessions (docs/cluster.md "When a node never comes back"): taken over from
  // PostgreSQL when their clients log in here, or swept.
  std::unique_ptr<cluster::session_rescue> rescue;
  if (link) {
    rescue = std::make_unique<cluster::session_rescue>(
        b, *link,
        cluster::rescue_options{
            .db = {.url = c.store.url, .password_file = c.store.password_file}});
    link->rescue_from([r = rescue.get()](std::string key, unsigned prefer,
                                         std::function<void(std::string)> done) {
      r->take(std::move(key), prefer, std::move(done));
    });
  }
  if (auto n = b.restore(*session_db); !n)
    throw store::open_error(
        (link ? "PostgreSQL session store" : "session database " + c.data_dir + "/sessions.db") +
        std::string(": cannot load: ") + n.error().message());
  b.attach_store(session_writer, sync);
  session_writer.start();
  // The thing layer (issue 4): its tables live beside the devices they belong to.
  platform::gateway_state gateways(c.limits.subdevice_logins_per_second);
  platform::thing_service_options tso;
  tso.prune_interval = c.thing.prune_interval;
  tso.subs = policy.get();
  tso.gateways = &gateways;
  platform::thing_service things(b, identities, thing_db, tso);
  platform::services services(b, dir, &things);
  services.set_sub_sessions(policy.get());
  services_ptr = &services;
  things_ptr = &things;
  if (link)
    dir.set_observer(
        [l = link.get()](std::string_view kind, std::string_view first, std::string_view second) {
          l->announce({std::string(kind), std::string(first), std::string(second)});
        });
  services.set_gateway_state(&gateways);
  // OTA (issue 20): firmware files under the data dir, jobs beside the thing data. It takes
  // the OTA topics and hands the rest to the thing layer.
  auto ota_db =
      c.store.backend == "postgres"
          ? store::open_pg_ota_store({.url = c.store.url, .password_file = c.store.password_file})
          : store::open_sqlite_ota_store(std::filesystem::path(c.data_dir) / "identity.db");
  platform::firmware_files firmware(std::filesystem::path(c.data_dir) / "firmware");
  platform::ota_options oo;
  oo.url_base = c.ota.url_base;
  oo.timeout_unit = std::chrono::seconds(c.ota.timeout_unit_seconds);
  oo.max_firmware = c.limits.max_firmware;
  if (link)
    oo.nodes_up = [l = link.get()] { return l->nodes_up_known(); };
  auto signer = platform::download_signer::load_or_create(c.data_dir);
  if (c.store.backend == "postgres") {
    // Every node of a cluster serves every firmware and checks every node's download links:
    // the bytes and the links' secret are in the store (the first node's secret for all).
    oo.shared_files = true;
    auto shared = ota_db->shared_secret("download_links", signer.secret());
    if (!shared)
      throw std::runtime_error("store: the download links' secret: " + shared.error().message());
    signer = platform::download_signer(std::move(*shared));
  }
  platform::ota_service ota(services, *ota_db, thing_db, things, firmware, signer, oo);
  // Remote configuration files beside the firmware (data/config/), answered by the OTA service;
  // with PostgreSQL, in the store (every node of a cluster has them all).
  platform::config_service configs(services, std::filesystem::path(c.data_dir) / "config",
                                   ota.signer(), {},
                                   c.store.backend == "postgres" ? ota_db.get() : nullptr);
  if (link) {
    configs.set_observer([l = link.get()](std::string_view pk) {
      l->announce({"config", std::string(pk), ""});
    });
    configs.set_cluster({.elsewhere =
                             [&dir](std::string_view pk, std::string_view dn) {
                               auto d = dir.store().get_device(pk, dn);
                               return d && d->enabled && store::login_is_newest(*d);
                             },
                         .forward =
                             [l = link.get()](std::string_view pk, std::string note) {
                               l->announce({"config-reply", std::string(pk), std::move(note)});
                             }});
  }
  configs_ptr = &configs;
  ota.set_config(&configs);
  if (link)
    ota.set_observer([l = link.get()](std::string_view id) {
      l->announce({"firmware", std::string(id), ""});
    });
  ota_ptr = &ota;
  b.attach_consumer(ota);

  net::listener_set listeners(b, listener_config_of(c));
  for (const auto& l : listeners.listeners())
    announce(net::to_string(l->kind()).data(), l->local_endpoint()); // names are literals
  std::optional<api::server> http;                                   // HTTP API, metrics, console
  if (!c.http.listen.empty()) {
    auto token = api::load_or_create_token(c.http.token, c.data_dir);
    if (link && !token.file.empty()) {
      // One admin token for the whole cluster (behind a balancer any node may answer): the first
      // node's, kept in the store; the others write it into their own admin.token.
      auto shared = ota_db->shared_secret("admin_token", token.value);
      if (!shared)
        throw std::runtime_error("store: the cluster's admin token: " + shared.error().message());
      if (*shared != token.value) {
        api::replace_token_file(token.file, *shared);
        token.value = std::move(*shared);
        token.generated = true; // printed: it changed
      }
    }
    if (token.generated)
      std::printf("thingport: admin token written to %s: %s\n", token.file.c_str(),
                  token.value.c_str());
    // Healthy: the identity store answers and the session store's last commit succeeded.
    const auto store_up = [&dir, &b] {
      return !b.store_failing() && dir.store().list_products({0, 1}).has_value();
    };
    api::server_options ho;
    ho.max_connections = c.http.max_connections;
    ho.max_connections_per_ip = c.http.max_connections_per_ip;
    api::context ctx{services,     dir,     token.value,
                     store_up,     &things, std::make_shared<api::http_stats>(),
                     node_name(c), nullptr};
    // A draining node stops listening for MQTT: a balancer's health check fails, so it sends
    // the reconnecting devices to the other nodes (docs/cluster.md "Rolling upgrade").
    if (link)
      ctx.cluster = std::make_shared<cluster_view>(*link, rescue->stats(), [&listeners] {
        listeners.stop();
        spdlog::warn("cluster: draining: the MQTT listeners are closed");
      });
    ctx.ota = &ota;
    http.emplace(std::move(ctx), net::parse_endpoint(c.http.listen), ho);
    announce("http", http->local_endpoint());
    if (c.ota.url_base.empty())
      ota.set_url_base("http://" + net::to_string(http->local_endpoint()));
  }

  things.start();
  if (link)
    link->start();
  if (failover)
    failover->start();
  if (rescue)
    rescue->start();
  ota.start();
  b.start();
  listeners.start();
  if (http)
    http->start();
  spdlog::info("thingport serving with {} workers", b.worker_count());

  signals.async_wait(
      [&](boost::system::error_code, int sig) { spdlog::info("signal {}: shutting down", sig); });
  main_io.run();

  if (http)
    http->stop();
  ota.stop();
  listeners.stop();
  if (rescue)
    rescue->stop(); // before the workers: a move waits for them to commit
  b.stop();
  if (failover)
    failover->stop(); // after the workers: their links' records go
  if (link)
    link->stop(); // after the workers: their last wills may still go out
  things.stop();
  policy->flush();
  spdlog::info("stopped");
  return 0;
}

} // namespace thingport::app
