// OTA upgrade jobs (docs/ota.md): the job rows in the store (store/ota_store.hpp), one thread
// that sends /ota/device/upgrade to the online waiting devices of running jobs at each job's
// rate, and that handles what devices say about it: progress, inform (the new version: done),
// requests (/ota/device/request, thing.ota.firmware.get).
//
// It sits in front of the thing service as the core's publish consumer: classify() takes the
// OTA topics and hands everything else to `next`; an inform goes to both (the thing service
// records the version). State lives in the store only: after a crash the thread resumes from
// it, and a device marked inProgress is not sent the message again (unless it asks).
//
// Threads: classify() and consume() on broker workers (consume only queues, bounded); the OTA
// thread does every store call of device messages and of the schedule. create_job(),
// cancel_job() and the accessors may be called from any thread (the HTTP API's).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "platform/config_service.hpp"
#include "platform/core.hpp"
#include "platform/ota_files.hpp"
#include "platform/ota_message.hpp"
#include "platform/ota_token.hpp"
#include "store/ota_store.hpp"
#include "store/thing_store.hpp"

namespace thingport::platform {

class services;

struct ota_options {
  std::string url_base = "http://127.0.0.1:8080"; // [ota] url_base: where devices download
  std::chrono::seconds link_ttl{24 * 3600};       // how long a download link is good for
  std::chrono::milliseconds tick{200};            // the schedule's period
  // A device online for less than this is not sent a job's message yet by the schedule: its
  // SDK subscribes right after CONNECT (it can always ask).
  std::chrono::milliseconds online_grace{500};
  std::size_t max_queue = 10'000; // device messages waiting for the OTA thread
  std::uint32_t default_rate = 1000;
  std::uint64_t max_firmware = 1ull << 30; // [limits] max_firmware: bytes of one upload
  // MQTT block download (ota_blocks.hpp): block requests a device may make a second (a burst
  // of as many); past it a request is dropped (the SDK asks again after its timeout).
  std::uint32_t block_rate = 200;
  std::size_t max_streams = 10'000; // devices whose stream is remembered between requests
  // [ota] timeout_unit_seconds: what one of a job's timeoutMinutes lasts (a lab or a test sets
  // 1 s to see timeouts in seconds). Overdue devices are looked for each second.
  std::chrono::seconds timeout_unit{60};
  // In a cluster every node runs the schedule for its own devices: the nodes up, which share
  // each job's rate (each sends rate / nodes), so that the cluster keeps it; 0 while that is not
  // known (just started, NATS unreachable): nothing is sent then. Null: one node.
  std::function<std::size_t()> nodes_up{};
  // A cluster's store (PostgreSQL): each firmware's bytes are kept in the store too, and a node
  // without the file (it was uploaded to another node) serves it from there.
  bool shared_files = false;
};

// The store chunk a firmware read last used (ota_store::chunk_size bytes): a download reads a
// chunk once, not once a block.
struct chunk_cache {
  std::string firmware_id{};
  std::uint32_t n = 0;
  std::string data{};
};

struct job_spec {
  std::string firmware_id{};
  std::optional<std::vector<std::string>> devices{}; // nullopt: every device of the product
  std::vector<std::string> from_versions{};          // empty: any (or the firmware's srcVersions)
  std::uint32_t rate_per_minute = 0;                 // 0: the default
  std::uint32_t retries = 0;
  std::uint32_t timeout_minutes = 0;       // 0: none
  std::string download_protocol = "https"; // or "mqtt" (blocks on thing/file/download)
  std::optional<store::timestamp> start{}; // scheduleTime; nullopt: now
};

struct job_created {
  std::string job_id{};  // empty on failure
  int status = 201;      // else 400 / 404 / 500
  std::string message{}; // why not
  std::size_t devices = 0;
};

class ota_service final : public publish_consumer {
public:
  ota_service(services& s, store::ota_store& db, store::thing_store& things, publish_consumer& next,
              firmware_files& files, download_signer signer, ota_options o);
  ~ota_service() override; // stop()
  ota_service(const ota_service&) = delete;
  ota_service& operator=(const ota_service&) = delete;

  void start();
  void stop(); // idempotent; before the broker goes

  std::uint8_t classify(const client_identity& who, std::string_view topic) const override;
  void consume(const std::shared_ptr<const client_identity>& who, const message_ptr& m) override;

  store::ota_store& store() noexcept { return db_; }
  firmware_files& files() noexcept { return files_; }
  const download_signer& signer() const noexcept { return signer_; }
  const ota_options& options() const noexcept { return opts_; }
  // Before start() only.
  void set_url_base(std::string url) {
    opts_.url_base = std::move(url);
    if (config_ != nullptr)
      config_->set_url_base(opts_.url_base);
  }
  // Remote configuration (thing/config/get and push_reply; its pushes sent each tick). Before
  // start() only; null: those topics go to `next`.
  void set_config(config_service* c) {
    config_ = c;
    if (c != nullptr)
      c->set_url_base(opts_.url_base);
  }
  config_service* config() noexcept { return config_; }

  // The bytes of an uploaded firmware (its file committed here) into the store, when the files
  // are shared (else nothing). On an error the caller forgets the firmware.
  store::result<void> share_firmware(std::string_view id);
  // Removes the firmware's file here and (shared) its bytes in the store; `deleted` (through
  // the API): the other nodes are told, to remove their copies of the file.
  void forget_firmware(std::string_view id, bool deleted = false);
  // A cluster: told the firmware deleted here (for the other nodes). Before start.
  void set_observer(std::function<void(std::string_view firmware_id)> f) {
    observer_ = std::move(f);
  }
  // [offset, offset + n) of a firmware this node has no file of, from the store (shared files
  // only); nullopt when the store does not have them all.
  std::optional<std::string> stored_bytes(std::string_view id, std::uint64_t offset, std::size_t n,
                                          chunk_cache& cache) const;

  job_created create_job(std::string_view pk, const job_spec& spec);
  // Cancels a running job; false when it was not running. Throws nothing; store errors false.
  store::result<bool> cancel_job(std::string_view pk, std::string_view job_id);

  std::uint64_t sent() const noexcept;
  std::uint64_t blocks_served() const noexcept;
  std::uint64_t block_bytes() const noexcept;
  std::uint64_t blocks_dropped() const noexcept;
  // HTTP download bytes sent (the API's file answers add them).
  void count_download(std::uint64_t n) noexcept {
    download_bytes_.fetch_add(n, std::memory_order_relaxed);
  }
  std::uint64_t download_bytes() const noexcept {
    return download_bytes_.load(std::memory_order_relaxed);
  }
  std::size_t jobs_running() const noexcept {
    return jobs_running_.load(std::memory_order_relaxed);
  }

private:
  struct item {
    std::uint8_t kind;
    std::string pk, dn;
    message_ptr msg;
  };
  // A device's MQTT download: the firmware of its open job (OTA thread only).
  struct stream {
    std::uint32_t id = 0;
    std::string firmware_id{};
    std::uint64_t size = 0;
    double tokens = 0;
    std::chrono::steady_clock::time_point refilled{};
    std::chrono::steady_clock::time_point checked{}; // the open job was read (again each 5 s)
  };
  struct job_state {
    store::ota_job_record job;
    store::firmware_record firmware;
    double tokens = 0;
    std::chrono::steady_clock::time_point refilled{};
    std::string cursor{}; // the last waiting device looked at
  };

  void run();
  void handle(const item& it);
  void schedule(std::chrono::steady_clock::time_point now);
  void refresh_jobs();
  double share() const; // the nodes a job's rate is shared by (1 without a cluster)
  // Sends the upgrade message of `job` to pk/dn (after mark_sent, or a resend).
  void send_upgrade(const store::ota_job_record& job, const store::firmware_record& fw,
                    std::string_view dn);
  upgrade_info info_of(const store::firmware_record& fw, std::string_view pk, std::string_view dn,
                       bool mqtt = false) const;
  void check_done(const std::string& job_id);
  // thing/file/download (ota_service_blocks.cpp).
  void serve_block(const item& it);

  services& services_;
  store::ota_store& db_;
  store::thing_store& things_;
  publish_consumer& next_;
  firmware_files& files_;
  download_signer signer_;
  ota_options opts_;
  config_service* config_ = nullptr;
  std::function<void(std::string_view)> observer_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<item> queue_;
  bool stop_ = false, wake_ = false;
  bool refresh_ = false; // re-read the running jobs now (a job was created or canceled)
  std::thread thread_;

  // OTA thread only.
  std::map<std::string, job_state> jobs_;
  std::chrono::steady_clock::time_point next_refresh_{};
  std::atomic<std::uint64_t> sent_{0};
  std::map<std::string, stream> streams_; // "pk/dn"
  chunk_cache block_chunk_;               // the store chunk the last block came from
  std::atomic<std::uint64_t> blocks_{0}, block_bytes_{0}, blocks_dropped_{0}, download_bytes_{0};
  std::atomic<std::size_t> jobs_running_{0};
};

} // namespace thingport::platform
