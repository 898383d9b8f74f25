// thingport-load: an MQTT 3.1.1 load generator for thingport and Mosquitto, on loopback only.
//
//   thingport-load --port P --scenario fanin  --publishers 100 [--qos 0|1] [--rate R] ...
//   thingport-load --port P --scenario fanout --subscribers 1000
//   thingport-load --port P --scenario pairs  --publishers 1000 --qos 1
//   thingport-load --port P --scenario storm  --connections 10000 [--window 256]
//   thingport-load --port P --scenario idle   --connections 19000 --hold 5 --broker-pid PID
//   ... --product-key PK --devices devices.csv   (storm/idle signed as Aliyun devices)
//
// Each message carries its send time, publisher number and sequence number in its first 24
// bytes; subscribers keep a bitset per publisher, so lost and duplicated messages are counted
// exactly. Prints one JSON line on stdout and one human line on stderr. Bounded: --duration and
// --hold at most 120 s, the whole run is killed by an alarm after duration + hold + 150 s, and
// only 127.0.0.0/8 targets are accepted.
#include <arpa/inet.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "auth/credentials.hpp"
#include "load.hpp"
#include "mqtt/serializer.hpp"

namespace tl = thingport::load;
namespace mqtt = thingport::mqtt;

namespace {

constexpr double max_duration = 120;
constexpr unsigned direct_source_limit = 28000; // about the ephemeral port range of one source
// Connections per source address when spread: the kernel's search for a free ephemeral port of one
// source slows as the range fills (19,000 idle links from 127.0.0.1 alone connect at ~5k/s to any
// broker, over 2,000-link sources at 20k/s), so the load tool, not the broker, would set the rate.
constexpr unsigned per_source = 2000;

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stdout, "{\"tool\":\"thingport-load\",\"error\":\"%s\"}\n", why.c_str());
  std::fprintf(stderr, "thingport-load: %s\n", why.c_str());
  std::exit(2);
}

void on_alarm(int) {
  static const char msg[] = "{\"tool\":\"thingport-load\",\"error\":\"time limit reached\"}\n";
  (void)!::write(1, msg, sizeof msg - 1);
  _exit(3);
}

std::vector<tl::device> read_devices(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    die("cannot read " + path);
  std::vector<tl::device> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    const auto comma = line.find(',');
    if (line.empty() || comma == std::string::npos)
      continue;
    tl::device d{line.substr(0, comma), line.substr(comma + 1)};
    if (d.name == "deviceName")
      continue; // header
    out.push_back(std::move(d));
  }
  return out;
}

// VmRSS and VmHWM of the broker in kB; 0 when unknown.
std::pair<std::uint64_t, std::uint64_t> broker_rss(int pid) {
  if (pid <= 0)
    return {0, 0};
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  std::uint64_t rss = 0, hwm = 0, v = 0;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    ls >> key >> v;
    if (key == "VmRSS:")
      rss = v;
    if (key == "VmHWM:")
      hwm = v;
  }
  return {rss, hwm};
}

// TcpExt ListenOverflows + ListenDrops, machine-wide (loopback shares the namespace).
std::uint64_t listen_drops() {
  std::ifstream in("/proc/net/netstat");
  std::string names, values;
  while (std::getline(in, names) && std::getline(in, values)) {
    if (names.rfind("TcpExt:", 0) != 0)
      continue;
    std::istringstream n(names), v(values);
    std::string name, val;
    std::uint64_t sum = 0;
    while (n >> name && v >> val)
      if (name == "ListenOverflows" || name == "ListenDrops")
        sum += std::stoull(val);
    return sum;
  }
  return 0;
}

std::string connect_bytes(const tl::options& o, const std::string& id, bool clean,
                          const tl::device* dev) {
  mqtt::connect_packet p;
  p.clean_session = clean;
  p.keepalive = o.keepalive;
  if (dev != nullptr) {
    const auto ts = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
    thingport::auth::device_credential_options co;
    co.client_id = dev->name;
    co.timestamp = ts;
    auto cred = thingport::auth::device_credentials(o.product_key, dev->name, dev->secret, co);
    p.client_id = std::move(cred.client_id);
    p.username = std::move(cred.username);
    p.password = std::move(cred.password);
  } else {
    p.client_id = id;
  }
  std::string out;
  mqtt::encode(p, out);
  return out;
}

const char* name_of(tl::scenario s) {
  switch (s) {
  case tl::scenario::fanin:
    return "fanin";
  case tl::scenario::fanout:
    return "fanout";
  case tl::scenario::pairs:
    return "pairs";
  case tl::scenario::storm:
    return "storm";
  case tl::scenario::idle:
    return "idle";
  }
  return "?";
}

bool pubsub(tl::scenario s) {
  return s == tl::scenario::fanin || s == tl::scenario::fanout || s == tl::scenario::pairs;
}

// The connections of the run, subscribers first so they are subscribed before publishing.
std::vector<tl::connection> plan(const tl::options& o, const std::string& tag,
                                 std::uint64_t& publishers) {
  std::vector<tl::connection> all;
  const std::string base = o.topic_prefix + "/" + tag;
  auto sub = [&](std::uint32_t id, std::string filter, std::uint32_t pub_base, std::size_t pubs) {
    tl::connection c;
    c.what = tl::role::subscriber;
    c.id = id;
    c.filter = std::move(filter);
    c.pub_base = pub_base;
    c.seen.resize(pubs);
    c.connect_bytes =
        connect_bytes(o, o.id_prefix + "s" + std::to_string(id), !o.persistent, nullptr);
    all.push_back(std::move(c));
  };
  auto pub = [&](std::uint32_t id, std::string topic) {
    tl::connection c;
    c.what = tl::role::publisher;
    c.id = id;
    c.topic = std::move(topic);
    c.connect_bytes = connect_bytes(o, o.id_prefix + "p" + std::to_string(id), true, nullptr);
    all.push_back(std::move(c));
  };
  switch (o.kind) {
  case tl::scenario::fanin:
    sub(0, base + "/in/+", 0, o.publishers);
    for (std::uint32_t i = 0; i < o.publishers; ++i)
      pub(i, base + "/in/" + std::to_string(i));
    publishers = o.publishers;
    break;
  case tl::scenario::fanout:
    for (std::uint32_t i = 0; i < o.subscribers; ++i)
      sub(i, base + "/out", 0, 1);
    pub(0, base + "/out");
    publishers = 1;
    break;
  case tl::scenario::pairs:
    for (std::uint32_t i = 0; i < o.publishers; ++i)
      sub(i, base + "/p/" + std::to_string(i), i, 1);
    for (std::uint32_t i = 0; i < o.publishers; ++i)
      pub(i, base + "/p/" + std::to_string(i));
    publishers = o.publishers;
    break;
  case tl::scenario::storm:
  case tl::scenario::idle:
    for (std::uint32_t i = 0; i < o.connections; ++i) {
      tl::connection c;
      c.id = i;
      const tl::device* dev = o.product_key.empty() ? nullptr : &o.devices[i];
      c.connect_bytes = connect_bytes(o, o.id_prefix + "c" + std::to_string(i), true, dev);
      all.push_back(std::move(c));
    }
    publishers = 0;
    break;
  }
  if (o.spread_sources || all.size() > direct_source_limit)
    for (std::size_t i = 0; i < all.size(); ++i)
      all[i].source = 2 + static_cast<std::uint32_t>(i / per_source);
  return all;
}

std::string json_escape(std::string_view in) {
  std::string q;
  for (char ch : in) {
    if (static_cast<unsigned char>(ch) < 0x20)
      continue;
    if (ch == '"' || ch == '\\')
      q.push_back('\\');
    q.push_back(ch);
  }
  return q;
}

double seconds(std::uint64_t ns) {
  return static_cast<double>(ns) / 1e9;
}

void sleep_until_ns(std::uint64_t t) {
  const auto now = tl::now_ns();
  if (t > now)
    std::this_thread::sleep_for(std::chrono::nanoseconds(t - now));
}

} // namespace

int main(int argc, char** argv) {
  tl::options o;
  std::string kind = "fanin", devices_csv;
  CLI::App app{"thingport-load: MQTT load on loopback (thingport, Mosquitto)"};
  app.add_option("--host", o.host, "broker address (127.0.0.0/8 only)");
  app.add_option("--port", o.port, "broker port")->required();
  app.add_option("--scenario", kind, "fanin|fanout|pairs|storm|idle")
      ->check(CLI::IsMember({"fanin", "fanout", "pairs", "storm", "idle"}));
  app.add_option("--publishers", o.publishers, "fanin: publishers; pairs: pairs");
  app.add_option("--subscribers", o.subscribers, "fanout: subscribers");
  app.add_option("--connections", o.connections, "storm, idle: connections");
  app.add_option("--qos", o.qos, "0 or 1")->check(CLI::Range(0, 1));
  app.add_option("--payload", o.payload, "payload bytes (>= 24)")->check(CLI::Range(24, 1 << 20));
  app.add_option("--rate", o.rate, "offered msg/s over all publishers; 0 = as fast as possible");
  app.add_option("--duration", o.duration, "measured seconds (<= 120)");
  app.add_option("--warmup", o.warmup, "seconds of sending before measuring (<= 10)");
  app.add_option("--hold", o.hold, "idle: seconds to hold the connections (<= 120)");
  app.add_option("--threads", o.threads, "event loop threads")->check(CLI::Range(1, 16));
  app.add_option("--inflight", o.inflight, "QoS 1 window per publisher")
      ->check(CLI::Range(1, 65000));
  app.add_option("--burst", o.burst, "unpaced: messages per publisher per write")
      ->check(CLI::Range(1, 1000));
  app.add_option("--outstanding", o.outstanding,
                 "QoS 0 unpaced: deliveries on their way at most (0: no bound, a flood)");
  app.add_option("--window", o.window, "connects in progress at once")
      ->check(CLI::Range(1, 100000));
  app.add_flag("--persistent", o.persistent, "subscribers use cleanSession=0");
  app.add_option("--keepalive", o.keepalive, "keepalive seconds in CONNECT");
  app.add_option("--topic-prefix", o.topic_prefix, "first topic level");
  app.add_option("--id-prefix", o.id_prefix, "client id prefix");
  app.add_option("--product-key", o.product_key, "sign as devices of this product");
  app.add_option("--devices", devices_csv, "CSV of deviceName,deviceSecret (with --product-key)");
  app.add_option("--broker-pid", o.broker_pid, "broker pid, for its RSS");
  app.add_option("--label", o.label, "copied into the JSON line");
  app.add_flag("--spread-sources", o.spread_sources, "bind sources over 127.0.0.2 and up");
  CLI11_PARSE(app, argc, argv);

  o.kind = kind == "fanin"    ? tl::scenario::fanin
           : kind == "fanout" ? tl::scenario::fanout
           : kind == "pairs"  ? tl::scenario::pairs
           : kind == "storm"  ? tl::scenario::storm
                              : tl::scenario::idle;
  if (o.kind == tl::scenario::storm)
    o.hold = 0;
  if (o.duration <= 0 || o.duration > max_duration)
    die("--duration must be in (0, 120]");
  if (o.warmup < 0 || o.warmup > 10)
    die("--warmup must be in [0, 10]");
  if (o.hold < 0 || o.hold > max_duration)
    die("--hold must be in [0, 120]");
  if (o.rate < 0)
    die("--rate must be >= 0");
  if (o.id_prefix.empty())
    o.id_prefix = "ld" + std::to_string(::getpid()) + "-";
  if (!o.product_key.empty() || !devices_csv.empty()) {
    if (o.product_key.empty() || devices_csv.empty())
      die("device mode needs both --product-key and --devices");
    if (pubsub(o.kind))
      die("device mode is for the storm and idle scenarios");
    o.devices = read_devices(devices_csv);
    if (o.devices.size() < o.connections)
      die(fmt::format("{} has {} devices, {} connections asked", devices_csv, o.devices.size(),
                      o.connections));
  }

  tl::shared_state s;
  s.opts = &o;
  s.target.sin_family = AF_INET;
  s.target.sin_port = htons(o.port);
  if (inet_pton(AF_INET, o.host.c_str(), &s.target.sin_addr) != 1)
    die("--host must be an IPv4 address");
  if ((ntohl(s.target.sin_addr.s_addr) >> 24) != 127)
    die("only loopback (127.0.0.0/8) targets");

  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGALRM, on_alarm);
  alarm(static_cast<unsigned>(o.duration + o.warmup + o.hold + 150));

  const std::string tag = fmt::format("{}x{}", ::getpid(), tl::now_ns() % 1000000);
  auto conns = plan(o, tag, s.total_publishers);
  s.fan = o.kind == tl::scenario::fanout ? o.subscribers : 1;
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  if (conns.size() + 64 > lim.rlim_max)
    die(fmt::format("{} connections need more than the open-file hard limit {}", conns.size(),
                    lim.rlim_max));
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);

  // Round robin over threads; each thread opens its share in order (subscribers first).
  const unsigned nthreads = std::min<unsigned>(o.threads, static_cast<unsigned>(conns.size()));
  o.threads = std::max(1u, nthreads);
  std::vector<std::vector<tl::connection>> shares(o.threads);
  const std::size_t total = conns.size();
  for (std::size_t i = 0; i < conns.size(); ++i)
    shares[i % o.threads].push_back(std::move(conns[i]));
  conns.clear();

  const auto [rss_before, hwm_before] = broker_rss(o.broker_pid);
  (void)hwm_before;
  const std::uint64_t drops_before = listen_drops();
  std::vector<std::unique_ptr<tl::loop>> loops;
  for (auto& share : shares)
    loops.push_back(std::make_unique<tl::loop>(s, std::move(share)));
  std::vector<std::thread> threads;
  const std::uint64_t t_start = tl::now_ns();
  for (auto& l : loops)
    threads.emplace_back([&l] { l->run(); });

  // Connect phase: bounded by 90 s.
  const std::uint64_t connect_deadline = t_start + 90'000'000'000ull;
  while (s.ready.load() + s.failed.load() < total && tl::now_ns() < connect_deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const std::uint64_t t_connected = tl::now_ns();
  const std::uint64_t drops_after = listen_drops();
  std::vector<std::string> errors;
  if (s.ready.load() + s.failed.load() < total)
    errors.push_back("connect phase timed out");

  std::uint64_t rss_after = 0, rss_peak = 0;
  const bool run_traffic = pubsub(o.kind) && s.failed.load() == 0 && errors.empty();
  if (run_traffic) {
    const std::uint64_t t0 = tl::now_ns();
    s.t0_ns = t0;
    s.measure_from_ns = t0 + static_cast<std::uint64_t>(o.warmup * 1e9);
    s.send_until_ns = s.measure_from_ns + static_cast<std::uint64_t>(o.duration * 1e9);
    s.current.store(static_cast<int>(tl::phase::run), std::memory_order_release);
    sleep_until_ns(s.send_until_ns);
    s.current.store(static_cast<int>(tl::phase::drain), std::memory_order_release);
    // Drain: until everything expected has arrived and is acknowledged, nothing moved for
    // 1 s, or 10 s.
    const std::uint64_t fan = s.fan;
    const std::uint64_t drain_end = tl::now_ns() + 10'000'000'000ull;
    std::uint64_t last = 0, last_change = tl::now_ns();
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      const auto now = tl::now_ns();
      const auto got = s.received.load();
      if (got >= s.sent.load() * fan && s.unacked.load() == 0)
        break;
      if (got != last) {
        last = got;
        last_change = now;
      }
      if (now - last_change > 1'000'000'000ull || now > drain_end)
        break;
    }
    std::tie(rss_after, rss_peak) = broker_rss(o.broker_pid);
  } else if (!pubsub(o.kind)) {
    // Hold: the broker's RSS is sampled every 100 ms; the last sample is reported.
    const std::uint64_t hold_end = tl::now_ns() + static_cast<std::uint64_t>(o.hold * 1e9);
    do {
      std::tie(rss_after, rss_peak) = broker_rss(o.broker_pid);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    } while (tl::now_ns() < hold_end);
    std::tie(rss_after, rss_peak) = broker_rss(o.broker_pid);
  }
  s.current.store(static_cast<int>(tl::phase::done), std::memory_order_release);
  for (auto& t : threads)
    t.join();

  // Merge and count.
  tl::histogram lat, conn_lat;
  std::uint64_t in_window = 0, skipped = 0, first = ~0ull, last_ready = 0;
  std::vector<std::uint64_t> pub_sent(s.total_publishers, 0);
  for (const auto& l : loops) {
    const auto& r = l->result();
    lat.merge(r.latency);
    conn_lat.merge(r.connect);
    in_window += r.in_window;
    skipped += r.skipped;
    if (r.first_connect_ns != 0)
      first = std::min(first, r.first_connect_ns);
    last_ready = std::max(last_ready, r.last_ready_ns);
    for (const auto& e : r.errors)
      if (errors.size() < 8 && std::find(errors.begin(), errors.end(), e) == errors.end())
        errors.push_back(e);
    for (const auto& c : l->connections())
      if (c.what == tl::role::publisher)
        pub_sent[c.id] = c.seq;
  }
  std::uint64_t got = 0, dups = 0, expected = 0, foreign = 0;
  for (const auto& l : loops) {
    for (const auto& c : l->connections()) {
      if (c.what != tl::role::subscriber)
        continue;
      dups += c.dups;
      foreign += c.foreign;
      for (std::size_t k = 0; k < c.seen.size(); ++k) {
        const std::uint64_t sent = pub_sent[c.pub_base + k];
        expected += sent;
        std::uint64_t unique = 0;
        for (std::size_t w = 0; w < c.seen[k].size(); ++w) {
          std::uint64_t bits = c.seen[k][w];
          if ((w + 1) * 64 > sent) { // only sequence numbers that were sent
            const std::uint64_t keep = sent > w * 64 ? sent - w * 64 : 0;
            bits &= keep >= 64 ? ~0ull : ((1ull << keep) - 1);
          }
          unique += static_cast<std::uint64_t>(std::popcount(bits));
        }
        got += unique;
      }
    }
  }
  const std::uint64_t sent_total = s.sent.load();
  const std::uint64_t ready = s.ready.load();
  const double connect_s = last_ready > first ? seconds(last_ready - first) : 0;
  const double connect_rate = connect_s > 0 ? static_cast<double>(ready) / connect_s : 0;
  const double msgs_per_s = run_traffic ? static_cast<double>(in_window) / o.duration : 0;
  const double us = 1e3;
  const std::uint64_t conns_for_rss = pubsub(o.kind) ? total : ready;
  const double rss_per_conn = rss_after > rss_before && conns_for_rss > 0
                                  ? static_cast<double>(rss_after - rss_before) * 1024.0 /
                                        static_cast<double>(conns_for_rss)
                                  : 0;
  std::string errs;
  for (const auto& e : errors)
    errs += (errs.empty() ? "\"" : ",\"") + json_escape(e) + "\"";
  std::printf(
      "%s\n",
      fmt::format(
          "{{\"tool\":\"thingport-load\",\"label\":\"{}\",\"scenario\":\"{}\",\"mode\":\"{}\","
          "\"qos\":{},\"payload\":{},\"publishers\":{},\"subscribers\":{},\"connections\":{},"
          "\"threads\":{},\"burst\":{},\"outstanding\":{},\"rate_offered\":{},\"duration_s\":{},"
          "\"persistent\":{},"
          "\"sent\":{},\"expected\":{},\"received\":{},\"lost\":{},\"duplicated\":{},"
          "\"foreign\":{},\"skipped\":{},\"msgs_per_s\":{:.0f},"
          "\"lat_us\":{{\"count\":{},\"p50\":{:.1f},\"p99\":{:.1f},\"p999\":{:.1f},\"max\":{:.1f}}}"
          ","
          "\"connect\":{{\"ok\":{},\"failed\":{},\"closed_early\":{},\"seconds\":{:.3f},"
          "\"rate_per_s\":{:.0f},\"p50_ms\":{:.2f},\"p99_ms\":{:.2f},\"listen_drops\":{}}},"
          "\"broker_rss_kb\":{{\"before\":{},\"after\":{},\"peak\":{},\"per_conn_b\":{:.0f}}},"
          "\"errors\":[{}]}}",
          json_escape(o.label), name_of(o.kind), o.product_key.empty() ? "anonymous" : "device",
          o.qos, o.payload, s.total_publishers,
          o.kind == tl::scenario::fanin    ? 1u
          : o.kind == tl::scenario::fanout ? o.subscribers
          : o.kind == tl::scenario::pairs  ? o.publishers
                                           : 0u,
          total, o.threads, o.burst, o.outstanding, o.rate, o.duration, o.persistent, sent_total,
          expected, got, expected > got ? expected - got : 0, dups, foreign, skipped, msgs_per_s,
          lat.count(), static_cast<double>(lat.quantile(0.5)) / us,
          static_cast<double>(lat.quantile(0.99)) / us,
          static_cast<double>(lat.quantile(0.999)) / us, static_cast<double>(lat.max()) / us, ready,
          s.failed.load(), s.closed_early.load(), connect_s, connect_rate,
          static_cast<double>(conn_lat.quantile(0.5)) / 1e6,
          static_cast<double>(conn_lat.quantile(0.99)) / 1e6, drops_after - drops_before,
          rss_before, rss_after, rss_peak, rss_per_conn, errs)
          .c_str());
  std::fflush(stdout);
  std::fprintf(
      stderr,
      "%s %s qos%u: %.0f msg/s, p50 %.0f us p99 %.0f us p999 %.0f us, lost %llu dup %llu; "
      "%llu connected (%llu failed) at %.0f/s; broker RSS %llu -> %llu kB (%.0f B/conn)%s\n",
      name_of(o.kind), o.product_key.empty() ? "anonymous" : "device", o.qos, msgs_per_s,
      static_cast<double>(lat.quantile(0.5)) / us, static_cast<double>(lat.quantile(0.99)) / us,
      static_cast<double>(lat.quantile(0.999)) / us,
      static_cast<unsigned long long>(expected > got ? expected - got : 0),
      static_cast<unsigned long long>(dups), static_cast<unsigned long long>(ready),
      static_cast<unsigned long long>(s.failed.load()), connect_rate,
      static_cast<unsigned long long>(rss_before), static_cast<unsigned long long>(rss_after),
      rss_per_conn, errors.empty() ? "" : (" errors: " + errors.front()).c_str());
  (void)t_connected;
  return errors.empty() ? 0 : 1;
}
