// thingport-device --ota: N devices that take OTA upgrades (simulator.hpp, run_ota). Each
// connects, informs its version, and on an upgrade message downloads the firmware over HTTP with
// the message's signed link (download_file, on a small pool of threads: it blocks), checks its
// size and digests, reports progress, then informs the new version. A chosen fraction reports
// -2 (download failed) on its first upgrade message, so that the job sends it again; it
// succeeds then. An upgrade message that names a stream instead of a URL (a job's
// downloadProtocol mqtt) is fetched over MQTT in blocks (ota::download_blocks, on the I/O
// thread: it does not block), reporting progress each 10%. One I/O thread for the MQTT side;
// the summary is one JSON line.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>

#include "simulator.hpp"
#include "simulator_stop.hpp"
#include "thingport/device/ota.hpp"

namespace thingport::device::sim {

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using clock = std::chrono::steady_clock;

struct ota_totals {
  std::uint64_t messages = 0;   // upgrade messages received
  std::uint64_t simulated = 0;  // failures reported on purpose (-2)
  std::uint64_t errors = 0;     // downloads that failed for real
  std::uint64_t upgraded = 0;   // devices that informed the new version
  std::uint64_t bytes = 0;      // downloaded and checked
  std::uint64_t resumes = 0;    // block downloads: re-asks after a reconnect or a timeout
  std::vector<double> received; // seconds since the start, one per upgrade message
  clock::time_point first_download{}, last_download{};
  bool any_download = false;
};

// Runs download jobs on a few threads; results go back to the I/O thread by asio::post.
class download_pool {
public:
  explicit download_pool(unsigned threads) {
    for (unsigned i = 0; i < std::max(1u, threads); ++i)
      threads_.emplace_back([this] { work(); });
  }
  ~download_pool() { stop(); }
  download_pool(const download_pool&) = delete;
  download_pool& operator=(const download_pool&) = delete;

  void add(std::function<void()> job) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }
  // Drops the jobs not started, waits for the running ones.
  void stop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      jobs_.clear();
    }
    cv_.notify_all();
    for (auto& t : threads_)
      if (t.joinable())
        t.join();
  }

private:
  void work() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      if (stop_)
        return;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

class ota_device {
public:
  ota_device(asio::io_context& io, const ota_run& r, const triplet& t, bool fails_once,
             ota_totals& tot, download_pool& pool, clock::time_point t0,
             std::function<void()> on_upgraded)
      : r_(r), io_(io), tot_(tot), pool_(pool), t0_(t0), on_upgraded_(std::move(on_upgraded)),
        fails_once_(fails_once), version_(r.version), name_(t.device_name) {
    options o = r.base;
    o.device = t;
    client_ = std::make_unique<client>(io.get_executor(), o);
    ota_ = std::make_unique<ota>(*client_);
    client_->on_status([this](const status& st) {
      if (r_.verbose || st.error)
        log("status " + st.describe());
      if (st.state == link_state::connected && !stopped_)
        ota_->inform(version_);
    });
    // On the client's strand, which is the one I/O thread: the same as the pool's posts.
    ota_->on_upgrade([this](const upgrade_info& u) { upgrade(u); });
  }

  void start() { client_->start(); }
  void stop() {
    stopped_ = true;
    client_->stop();
  }

private:
  void upgrade(const upgrade_info& u) {
    if (stopped_)
      return;
    ++tot_.messages;
    tot_.received.push_back(std::chrono::duration<double>(clock::now() - t0_).count());
    if (r_.verbose)
      log("<- upgrade " + u.version + " " + std::to_string(u.size) + " bytes");
    if (u.version == version_) { // upgraded already: say so again
      ota_->inform(version_);
      return;
    }
    if (busy_)
      return; // the same message again while downloading
    if (fails_once_ && !failed_) {
      failed_ = true;
      ++tot_.simulated;
      ota_->progress(-2, "simulated download failure", u.module == "default" ? "" : u.module);
      return;
    }
    busy_ = true;
    ota_->progress(0, "downloading");
    download_request req;
    req.url = u.url;
    req.file = r_.dir / (name_ + ".bin");
    req.size = u.size;
    req.md5 = u.md5;
    req.sha256 = u.sha256;
    req.ca_file = r_.base.ca_file;
    std::error_code rm;
    std::filesystem::remove(req.file, rm);
    if (u.url.empty()) {
      blocks(u, req);
      return;
    }
    pool_.add([this, req = std::move(req), u] {
      const auto started = clock::now();
      auto res = download_file(req);
      const auto ended = clock::now();
      std::error_code rm_ec;
      std::filesystem::remove(req.file, rm_ec);
      asio::post(io_, [this, res, u, started, ended] { downloaded(res, u, started, ended); });
    });
  }

  void blocks(const upgrade_info& u, const download_request& http) {
    ota::block_download_request req;
    req.stream_id = u.stream_id;
    req.file_id = u.stream_file_id == 0 ? 1 : u.stream_file_id;
    req.file = http.file;
    req.size = u.size;
    req.md5 = u.md5;
    req.sha256 = u.sha256;
    req.block_size = r_.block_size;
    req.block_interval = std::chrono::milliseconds(r_.block_interval_ms);
    req.progress = [this, last = 0ull](std::uint64_t have, std::uint64_t total) mutable {
      const auto pct = have * 100 / std::max<std::uint64_t>(total, 1);
      if (pct / 10 > last / 10 && pct < 100)
        ota_->progress(static_cast<int>(pct), "downloading");
      last = pct;
    };
    const auto started = clock::now();
    ota_->download_blocks(std::move(req), [this, u, started,
                                           file = http.file](const download_result& res) {
      std::error_code rm;
      std::filesystem::remove(file, rm);
      tot_.resumes += res.resumes;
      if (r_.verbose)
        log("blocks: " + std::to_string(res.attempts) + " requests, " +
            std::to_string(res.resumes) + " resumed, last at " + std::to_string(res.last_start));
      downloaded(res, u, started, clock::now());
    });
  }

  void downloaded(const download_result& res, const upgrade_info& u, clock::time_point started,
                  clock::time_point ended) {
    busy_ = false;
    if (stopped_)
      return;
    if (res.error) {
      ++tot_.errors;
      log("download error: " + res.error.message());
      ota_->progress(res.error == errc::digest_mismatch ? -3 : -2, res.error.message());
      return;
    }
    tot_.bytes += res.bytes;
    if (!tot_.any_download || started < tot_.first_download)
      tot_.first_download = started;
    tot_.last_download = std::max(tot_.any_download ? tot_.last_download : ended, ended);
    tot_.any_download = true;
    ota_->progress(100, "verified");
    version_ = u.version; // "rebooted" into it
    ota_->inform(version_, u.module);
    if (!upgraded_) {
      upgraded_ = true;
      ++tot_.upgraded;
      on_upgraded_();
    }
  }

  void log(const std::string& line) const {
    std::cout << "[" << name_ << "] " << line << std::endl;
  }

  const ota_run& r_;
  asio::io_context& io_;
  ota_totals& tot_;
  download_pool& pool_;
  clock::time_point t0_;
  std::function<void()> on_upgraded_;
  bool fails_once_;
  std::string version_, name_;
  std::unique_ptr<client> client_;
  std::unique_ptr<ota> ota_;
  bool busy_ = false, failed_ = false, upgraded_ = false, stopped_ = false;
};

} // namespace

int run_ota(const ota_run& r) {
  std::error_code ec;
  std::filesystem::create_directories(r.dir, ec);
  if (ec) {
    std::cerr << "thingport-device: " << r.dir << ": " << ec.message() << "\n";
    return 1;
  }
  asio::io_context io(1);
  ota_totals tot;
  download_pool pool(r.workers);
  const auto t0 = clock::now();
  std::vector<std::unique_ptr<ota_device>> devices;
  run_stop end(io, r.duration, [&] {
    for (auto& d : devices)
      d->stop();
  });
  const std::size_t n = r.devices.size();
  for (std::size_t i = 0; i < n; ++i) {
    // Spread evenly: device i fails once when the running count of failures steps up at i.
    const bool fails = std::floor(static_cast<double>(i + 1) * r.fail) >
                       std::floor(static_cast<double>(i) * r.fail);
    devices.push_back(std::make_unique<ota_device>(io, r, r.devices[i], fails, tot, pool, t0, [&] {
      if (tot.upgraded == n)
        end.stop();
    }));
  }
  for (auto& d : devices)
    d->start();
  io.run();
  pool.stop();

  const double download_s =
      tot.any_download
          ? std::chrono::duration<double>(tot.last_download - tot.first_download).count()
          : 0.0;
  std::sort(tot.received.begin(), tot.received.end());
  const double span = tot.received.empty() ? 0.0 : tot.received.back() - tot.received.front();
  json::array per_second; // upgrade messages received in each second from the first
  for (double t : tot.received) {
    const auto s = static_cast<std::size_t>(t - tot.received.front());
    while (per_second.size() <= s)
      per_second.emplace_back(0);
    per_second[s] = per_second[s].as_int64() + 1;
  }
  json::object summary{
      {"devices", n},
      {"upgraded", tot.upgraded},
      {"messages", tot.messages},
      {"simulatedFailures", tot.simulated},
      {"downloadErrors", tot.errors},
      {"bytes", tot.bytes},
      {"blockResumes", tot.resumes},
      {"downloadSeconds", std::round(download_s * 1000) / 1000},
      {"MBps", download_s > 0 ? std::round(tot.bytes / download_s / 1e4) / 100 : 0.0},
      {"messageSeconds", std::round(span * 1000) / 1000},
      {"devicesPerMinute", span > 0 ? std::round(tot.upgraded / span * 60) : 0.0},
      {"messagesPerSecond", per_second}};
  std::cout << "summary " << json::serialize(summary) << std::endl;
  devices.clear();
  std::filesystem::remove(r.dir, ec); // when empty
  return tot.upgraded == n && tot.errors == 0 ? 0 : 3;
}

} // namespace thingport::device::sim
