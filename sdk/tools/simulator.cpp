// thingport-device: simulates one or N devices (a triplet on the command line or a CSV of them)
// on one I/O thread: each connects, posts its random-walk properties every --interval seconds,
// obeys property sets (applies them and answers 200), and prints what it sends and receives
// with --verbose. Bounded by --count posts per device and/or --duration seconds. Ends with a
// summary line (posts still waiting for their reply at the end are counted as cut_short, not as
// errors); with --require-replies the exit code is 3 unless every post got a 200 reply.
#include "simulator.hpp"
#include "simulator_stop.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "thing/json.hpp"

#include "thingport/device/thing.hpp"

namespace thingport::device::sim {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::optional<double> number(std::string_view s) {
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size())
    return std::nullopt;
  return v;
}

} // namespace

std::optional<std::vector<triplet>> parse_triplets_csv(std::string_view text, std::string& error) {
  std::vector<triplet> out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#')
      continue;
    std::vector<std::string_view> f;
    for (std::size_t at = 0;;) {
      const auto comma = line.find(',', at);
      f.push_back(trim(line.substr(at, comma == std::string_view::npos ? comma : comma - at)));
      if (comma == std::string_view::npos)
        break;
      at = comma + 1;
    }
    if (f.size() == 3 && f[0] == "productKey" && f[1] == "deviceName")
      continue;
    if (f.size() != 3 || f[0].empty() || f[1].empty() || f[2].empty()) {
      error = "line " + std::to_string(line_no) + ": want productKey,deviceName,deviceSecret";
      return std::nullopt;
    }
    out.push_back({std::string(f[0]), std::string(f[1]), std::string(f[2])});
  }
  return out;
}

std::optional<std::vector<triplet>>
parse_batch_json(std::string_view text, std::string_view product_key, std::string& error) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  const auto* doc = v.if_object();
  const auto* list = doc != nullptr ? doc->if_contains("devices") : nullptr;
  if (ec || list == nullptr || !list->is_array()) {
    error = "want {\"devices\":[{\"deviceName\",\"deviceSecret\"}..]}";
    return std::nullopt;
  }
  auto text_of = [](const json::object& o, std::string_view k) {
    const auto* f = o.if_contains(k);
    return f != nullptr && f->is_string() ? std::string(f->as_string()) : std::string();
  };
  std::string doc_pk = text_of(*doc, "productKey");
  if (doc_pk.empty())
    doc_pk = std::string(product_key);
  std::vector<triplet> out;
  for (std::size_t i = 0; i < list->as_array().size(); ++i) {
    const auto* d = list->as_array()[i].if_object();
    triplet t;
    if (d != nullptr) {
      t = {text_of(*d, "productKey"), text_of(*d, "deviceName"), text_of(*d, "deviceSecret")};
      if (t.product_key.empty())
        t.product_key = doc_pk;
    }
    if (t.product_key.empty() || t.device_name.empty() || t.device_secret.empty()) {
      error = "device " + std::to_string(i) + ": want deviceName, deviceSecret and a productKey";
      return std::nullopt;
    }
    out.push_back(std::move(t));
  }
  return out;
}

double walk::next(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> d(-step, step);
  value = std::clamp(value + d(rng), min, max);
  value = std::round(value * 100) / 100;
  return value;
}

std::optional<walk> parse_walk(std::string_view spec) {
  const auto eq = spec.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return std::nullopt;
  walk w;
  w.name = std::string(spec.substr(0, eq));
  std::vector<double> nums;
  std::string_view rest = spec.substr(eq + 1);
  for (;;) {
    const auto colon = rest.find(':');
    auto n = number(rest.substr(0, colon));
    if (!n)
      return std::nullopt;
    nums.push_back(*n);
    if (colon == std::string_view::npos)
      break;
    rest = rest.substr(colon + 1);
  }
  if (nums.size() != 1 && nums.size() != 2 && nums.size() != 4)
    return std::nullopt;
  w.value = nums[0];
  if (nums.size() >= 2)
    w.step = nums[1];
  if (nums.size() == 4) {
    w.min = nums[2];
    w.max = nums[3];
    if (w.min > w.max)
      return std::nullopt;
  }
  return w;
}

namespace {

struct settings {
  options base;
  std::vector<walk> walks;
  double interval = 5;
  unsigned count = 0;
  double duration = 0;
  bool verbose = false;
  bool ntp = false;
};

struct totals {
  std::uint64_t posted = 0;
  std::uint64_t sets = 0;
  std::uint64_t errors = 0;    // reply timeouts and publish failures
  std::uint64_t cut_short = 0; // still waiting for their reply when the run ended
  std::map<int, std::uint64_t> codes;
};

// One simulated device: a client, its thing helpers, its properties and post timer.
class simulated {
public:
  simulated(asio::io_context& io, const settings& s, const triplet& t, totals& tot,
            std::function<void()> on_done)
      : s_(s), tot_(tot), on_done_(std::move(on_done)), timer_(io), rng_(std::random_device{}()) {
    options o = s.base;
    o.device = t;
    client_ = std::make_unique<client>(io.get_executor(), o);
    thing_ = std::make_unique<thing>(*client_);
    walks_ = s.walks;
    name_ = t.device_name;
    client_->on_status([this](const status& st) {
      if (s_.verbose || st.error)
        log("status " + st.describe());
      if (st.state == link_state::connected && !posting_) {
        posting_ = true;
        if (s_.ntp) {
          thing_->sync_time([this](std::error_code ec, std::chrono::milliseconds off) {
            if (ec)
              return log("ntp error: " + ec.message());
            log("ntp offset " + std::to_string(off.count()) + " ms");
          });
        }
        tick();
      }
    });
    thing_->on_property_set([this](const json::object& params) { return apply(params); });
  }

  void start() { client_->start(); }
  // A timer that expired just before cancel() still runs its handler: stopped_ keeps that one
  // (or a connect completing late) from posting and arming the timer again, which would keep
  // io.run() from ever returning.
  void stop() {
    stopped_ = true;
    timer_.cancel();
    thing_->cancel();
    client_->stop();
  }

private:
  alink_result apply(const json::object& params) {
    ++tot_.sets;
    if (s_.verbose)
      log("<- property/set " + json::serialize(params));
    for (const auto& [k, v] : params) {
      auto it =
          std::find_if(walks_.begin(), walks_.end(), [&](const walk& w) { return w.name == k; });
      if (it != walks_.end() && v.is_number()) {
        boost::system::error_code ec;
        it->value = v.to_number<double>(ec);
      }
      extra_[std::string(k)] = v; // echoed in the next post, as a real device reports state
    }
    return {};
  }

  void tick() {
    if (stopped_ || (s_.count != 0 && sent_ >= s_.count))
      return;
    json::object params;
    for (auto& w : walks_)
      params[w.name] = w.next(rng_);
    for (const auto& [k, v] : extra_) {
      if (!params.contains(k))
        params[k] = v;
    }
    ++sent_;
    ++tot_.posted;
    const std::string body = thingport::thing::to_json(params);
    const std::string id = thing_->post_properties(
        std::move(params), [this](std::error_code ec, const alink_reply& r) {
          ++answered_;
          if (ec == std::error_code(errc::stopped)) {
            ++tot_.cut_short;
          } else if (ec) {
            ++tot_.errors;
            log("post error: " + ec.message());
          } else {
            ++tot_.codes[r.code];
            if (s_.verbose || r.code != 200)
              log("<- post_reply id=" + r.id + " code=" + std::to_string(r.code) +
                  (r.message.empty() ? "" : " " + r.message));
          }
          if (s_.count != 0 && answered_ >= s_.count && !done_) {
            done_ = true;
            on_done_();
          }
        });
    if (s_.verbose)
      log("-> thing/event/property/post id=" + id + " " + body);
    timer_.expires_after(std::chrono::milliseconds(static_cast<long>(s_.interval * 1000)));
    timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec)
        tick();
    });
  }

  void log(const std::string& line) const {
    std::cout << "[" << name_ << "] " << line << std::endl;
  }

  const settings& s_;
  totals& tot_;
  std::function<void()> on_done_;
  asio::steady_timer timer_;
  std::mt19937_64 rng_;
  std::unique_ptr<client> client_;
  std::unique_ptr<thing> thing_;
  std::vector<walk> walks_;
  std::map<std::string, json::value> extra_;
  std::string name_;
  bool posting_ = false;
  bool stopped_ = false;
  bool done_ = false;
  unsigned sent_ = 0;
  unsigned answered_ = 0;
};

} // namespace

int run(int argc, char** argv) {
  CLI::App app{"thingport-device: simulate devices that post properties and obey property sets"};
  settings s;
  std::string csv;
  triplet one;
  std::vector<std::string> props;
  std::string ca;
  bool insecure = false;
  bool require_replies = false;
  int keepalive = 60;
  app.add_option("--url", s.base.url, "server: mqtt:// mqtts:// ws:// wss://")
      ->capture_default_str();
  app.add_option("--product-key,-p", one.product_key, "productKey of a single device");
  app.add_option("--device-name,-d", one.device_name, "deviceName of a single device");
  app.add_option("--device-secret,-s", one.device_secret, "deviceSecret of a single device");
  app.add_option("--csv", csv, "file of triplets: productKey,deviceName,deviceSecret per line")
      ->check(CLI::ExistingFile);
  std::string batch;
  app.add_option("--batch", batch,
                 "file with the answer of POST /api/v1/products/{pk}/devices/batch "
                 "(productKey from --product-key when the file has none)")
      ->check(CLI::ExistingFile);
  app.add_option("--ca", ca, "CA certificate (PEM) to verify the server against");
  app.add_flag("--insecure", insecure, "do not verify the server certificate");
  app.add_option("--sign-method", s.base.sign_method, "hmacmd5, hmacsha1 or hmacsha256")
      ->capture_default_str();
  app.add_option("--property", props,
                 "name=start[:step[:min:max]] (default temperature=25:0.5:-40:120 "
                 "humidity=50:1:0:100)");
  app.add_option("--interval", s.interval, "seconds between posts")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 86400.0));
  app.add_option("--count", s.count, "posts per device, then exit (0: no limit)")
      ->capture_default_str();
  app.add_option("--duration", s.duration, "seconds, then exit (0: no limit)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 31536000.0));
  app.add_option("--keepalive", keepalive, "seconds")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  app.add_flag("--ntp", s.ntp, "sync time once per device after connecting");
  app.add_flag("--verbose,-v", s.verbose, "print every message sent and received");
  app.add_flag("--require-replies", require_replies,
               "exit 3 unless every post got a post_reply with code 200");
  bool gateway_mode = false;
  std::size_t sub_count = 0;
  app.add_flag("--gateway", gateway_mode,
               "the triplet is a gateway's; the --csv/--batch devices are its sub-devices, added "
               "to its topology, logged in through it in batches of 50 and posting by pack/post");
  app.add_option("--subs", sub_count,
                 "with --gateway: the first N sub-devices of --csv/--batch (0: all)");
  std::string ota_version;
  ota_run ota_opts;
  std::string ota_dir;
  app.add_option(
      "--ota", ota_version,
      "OTA mode: each device informs this version, takes upgrade messages, downloads "
      "and checks the firmware over HTTP (or MQTT blocks), then informs the new version");
  app.add_option("--ota-fail", ota_opts.fail,
                 "with --ota: the fraction of devices that report -2 on their first upgrade "
                 "message (the job retries them)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--ota-workers", ota_opts.workers, "with --ota: download threads")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  app.add_option("--ota-block-size", ota_opts.block_size,
                 "with --ota: bytes a block when a job sends its firmware over MQTT")
      ->check(CLI::Range(1, 65536));
  app.add_option("--ota-block-interval", ota_opts.block_interval_ms,
                 "with --ota: milliseconds between MQTT block requests (a slow device)")
      ->check(CLI::Range(0u, 60000u));
  app.add_option("--ota-dir", ota_dir, "with --ota: where downloads go (default: a temp dir)");
  CLI11_PARSE(app, argc, argv);

  std::vector<triplet> devices;
  if (!csv.empty()) {
    std::ifstream in(csv);
    std::stringstream text;
    text << in.rdbuf();
    std::string err;
    auto parsed = parse_triplets_csv(text.str(), err);
    if (!parsed) {
      std::cerr << "thingport-device: " << csv << ": " << err << "\n";
      return 1;
    }
    devices = std::move(*parsed);
  }
  if (!batch.empty()) {
    std::ifstream in(batch);
    std::stringstream text;
    text << in.rdbuf();
    std::string err;
    auto parsed = parse_batch_json(text.str(), one.product_key, err);
    if (!parsed) {
      std::cerr << "thingport-device: " << batch << ": " << err << "\n";
      return 1;
    }
    devices.insert(devices.end(), parsed->begin(), parsed->end());
    if (one.device_name.empty() && one.device_secret.empty())
      one.product_key.clear();
  }
  if (gateway_mode) {
    if (one.product_key.empty() || one.device_name.empty() || one.device_secret.empty()) {
      std::cerr << "thingport-device: --gateway needs the gateway's --product-key, "
                   "--device-name and --device-secret\n";
      return 1;
    }
    if (sub_count != 0 && devices.size() < sub_count) {
      std::cerr << "thingport-device: --subs " << sub_count << " but only " << devices.size()
                << " sub-devices given\n";
      return 1;
    }
    if (sub_count != 0)
      devices.resize(sub_count);
    if (devices.empty()) {
      std::cerr << "thingport-device: --gateway needs sub-devices (--csv or --batch)\n";
      return 1;
    }
  }
  if (!gateway_mode &&
      (!one.product_key.empty() || !one.device_name.empty() || !one.device_secret.empty())) {
    if (one.product_key.empty() || one.device_name.empty() || one.device_secret.empty()) {
      std::cerr
          << "thingport-device: --product-key, --device-name and --device-secret go together\n";
      return 1;
    }
    devices.push_back(one);
  }
  if (devices.empty()) {
    std::cerr << "thingport-device: no device: give a triplet or --csv\n";
    return 1;
  }
  if (props.empty())
    props = {"temperature=25:0.5:-40:120", "humidity=50:1:0:100"};
  for (const auto& p : props) {
    auto w = parse_walk(p);
    if (!w) {
      std::cerr << "thingport-device: bad --property " << p << "\n";
      return 1;
    }
    s.walks.push_back(*w);
  }
  s.base.ca_file = ca;
  s.base.verify_peer = !insecure;
  s.base.keepalive = std::chrono::seconds(keepalive);
  if (!ota_version.empty()) {
    ota_opts.base = s.base;
    ota_opts.devices = std::move(devices);
    ota_opts.version = ota_version;
    ota_opts.dir = ota_dir.empty() ? std::filesystem::temp_directory_path() /
                                         ("thingport-ota-" + std::to_string(::getpid()))
                                   : std::filesystem::path(ota_dir);
    ota_opts.duration = s.duration;
    ota_opts.verbose = s.verbose;
    return run_ota(ota_opts);
  }
  if (gateway_mode) {
    gateway_run g;
    g.base = s.base;
    g.base.device = one;
    g.subs = std::move(devices);
    g.walks = s.walks;
    g.interval = s.interval;
    g.count = s.count == 0 ? 1 : s.count;
    g.duration = s.duration;
    g.verbose = s.verbose;
    return run_gateway(g);
  }

  asio::io_context io(1);
  totals tot;
  std::vector<std::unique_ptr<simulated>> sims;
  std::size_t finished = 0;
  run_stop end(io, s.duration, [&] {
    for (auto& d : sims)
      d->stop();
  });
  try {
    for (const auto& t : devices) {
      sims.push_back(std::make_unique<simulated>(io, s, t, tot, [&] {
        if (++finished == devices.size())
          end.stop();
      }));
    }
  } catch (const std::exception& e) {
    std::cerr << "thingport-device: " << e.what() << "\n";
    return 1;
  }
  for (auto& d : sims)
    d->start();
  io.run();

  json::object codes;
  std::uint64_t ok = 0;
  for (const auto& [code, n] : tot.codes) {
    codes[std::to_string(code)] = n;
    if (code == 200)
      ok = n;
  }
  json::object summary{{"devices", devices.size()},  {"posted", tot.posted},
                       {"replies", codes},           {"errors", tot.errors},
                       {"cut_short", tot.cut_short}, {"sets", tot.sets}};
  std::cout << "summary " << json::serialize(summary) << std::endl;
  sims.clear();
  if (require_replies && (tot.posted == 0 || ok != tot.posted))
    return 3;
  return 0;
}

} // namespace thingport::device::sim
