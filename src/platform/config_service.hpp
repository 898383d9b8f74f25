// Remote configuration (docs/ota.md "Remote configuration"): one configuration file per product
// and version, kept under the data dir (data/config/<configId>.bin and .json), answered on
// /sys/{pk}/{dn}/thing/config/get with the newest one's id, size, SHA-256 and a signed download
// link, and pushed on /sys/{pk}/{dn}/thing/config/push to every online device of the product at
// a set rate, the devices' push_reply codes recorded.
//
// The configurations are few and small (at most 100 per product, 64 KiB each): the index is in
// memory, the files are read by the download only. A push's state is in memory and in its
// journal (push_journal.hpp: data/config/<configId>.push), read back at start: a restart resumes
// a push where it was, and a device recorded as sent is not sent it again.
//
// In a cluster (`shared`: the PostgreSQL store) the index and the files are in the store, one
// for all the nodes: the index is read from it at start and again, for a product, when another
// node says it changed (reload()); a node without a file writes it from the store when a
// device downloads it (file_of()). A push runs on the node it was started on and reaches the
// devices linked to the others through the routing; their replies come back (set_cluster()).
//
// Threads: every member from any thread (one mutex); tick() from the OTA thread, which calls it
// each tick. Messages are published outside the lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "platform/ota_token.hpp"
#include "platform/push_journal.hpp"
#include "store/ota_store.hpp"

namespace thingport::platform {

class services;

struct config_record {
  std::string id{}; // 32 lower-case hex characters
  std::string product_key{};
  std::uint64_t size = 0;
  std::string md5{}, sha256{}; // lower hex
  std::int64_t created_ms = 0; // Unix milliseconds
};

enum class push_device_state : std::uint8_t { waiting, sent, offline, replied };
std::string_view to_string(push_device_state s) noexcept;

struct push_device {
  std::string device_name{};
  push_device_state state = push_device_state::waiting;
  int code = 0;                 // the push_reply's code (replied)
  std::uint64_t message_id = 0; // the push message's id (sent, replied)
  std::int64_t at_ms = 0;       // when it was sent or replied
};

struct push_view {
  std::string config_id{};
  bool running = true;
  std::uint32_t rate_per_minute = 0;
  std::int64_t started_ms = 0;
  std::vector<push_device> devices{}; // in device-name order
};

struct config_options {
  std::uint64_t max_size = 64 * 1024; // bytes of one configuration file
  std::size_t max_per_product = 100;  // versions kept per product
  std::size_t max_push_devices = 100'000;
  std::size_t scan_batch = 500; // devices looked at per push and tick
  // A cluster: devices not linked here whose status a tick reads from the store, at most. It
  // is read under the mutex that a worker's config/get and push_reply take: this bounds their
  // wait (a push then scans such devices at 5 × this a second).
  std::size_t store_lookups = 32;
  // A push resumed at start waits this long for its devices to log in again before it goes on
  // (else every device not back yet would count as offline).
  std::chrono::milliseconds resume_grace{10'000};
  // A cluster: push replies handed to the other nodes a second, at most (a device sending
  // replies to no push would otherwise make every node work for each).
  std::uint32_t max_reply_forwards = 1000;
};

class config_service {
public:
  // Creates `dir` (0700), removes leftover temporary files and reads the index. Throws
  // std::runtime_error.
  config_service(services& s, std::filesystem::path dir, const download_signer& signer,
                 config_options o = {}, store::ota_store* shared = nullptr);
  config_service(const config_service&) = delete;
  config_service& operator=(const config_service&) = delete;

  void set_url_base(std::string url);

  struct added {
    std::optional<config_record> rec{};
    int status = 201; // else 400 / 409 / 413 / 500
    std::string message{};
  };
  added add(std::string_view pk, std::string_view body);
  std::vector<config_record> list(std::string_view pk) const; // oldest first
  std::optional<config_record> find(std::string_view pk, std::string_view id) const;
  std::filesystem::path path_of(std::string_view id) const;
  // The file of configuration `id` of pk, written from the store first when this node has
  // none (shared); nullopt when there is no such configuration or file.
  std::optional<std::filesystem::path> file_of(std::string_view pk, std::string_view id) const;
  // Forgets configuration `id` of pk, its push and its files; false when there is none.
  bool remove(std::string_view pk, std::string_view id);
  // Shared: told the product whose configurations this node added or removed (for the others);
  // before any is.
  void set_observer(std::function<void(std::string_view pk)> f) { observer_ = std::move(f); }
  // Shared: reads pk's configurations from the store again (another node changed them).
  void reload(std::string_view pk);
  // A cluster: a push also goes to the product's devices linked to other nodes (`elsewhere`
  // tells whether pk/dn is online on one: the store's status), through the routing; a
  // push_reply this node has no push for is handed to `forward` for the other nodes, whose
  // record_remote_reply() takes it. Before start.
  // `forward` takes a note for record_remote_reply() on the others, at most
  // config_options::max_reply_forwards a second (past it counted in replies_unforwarded()).
  struct cluster_hooks {
    std::function<bool(std::string_view pk, std::string_view dn)> elsewhere;
    std::function<void(std::string_view pk, std::string note)> forward;
  };
  void set_cluster(cluster_hooks h) { cluster_ = std::move(h); }
  void record_remote_reply(std::string_view pk, std::string_view note);
  std::uint64_t replies_unforwarded() const;
  const config_options& options() const noexcept { return opts_; }

  struct push_started {
    int status = 202; // else 404 / 400 / 500
    std::string message{};
    std::size_t devices = 0;
  };
  // Starts (or restarts) the push of configuration `id` to every device of product pk.
  push_started push(std::string_view pk, std::string_view id, std::uint32_t rate_per_minute);
  std::optional<push_view> push_of(std::string_view pk, std::string_view id) const;

  // Device messages (the device pk/dn checked by the caller): thing.config.get is answered at
  // once on `topic` + "_reply"; a push_reply is recorded.
  void on_get(std::string_view pk, std::string_view dn, std::string_view topic,
              std::string_view payload);
  void on_push_reply(std::string_view pk, std::string_view dn, std::string_view payload);

  // Sends the pushes' messages that their rates allow.
  void tick();

  std::uint64_t gets() const;
  std::uint64_t pushes_sent() const;

private:
  struct push_state {
    push_view view;
    std::unordered_map<std::string, std::size_t> index; // device name -> view.devices
    std::size_t next = 0;
    double tokens = 0;
    std::chrono::steady_clock::time_point refilled{};
    std::shared_ptr<push_journal> journal{}; // null: not recorded (it could not be written)
    std::chrono::steady_clock::time_point not_before{}; // resumed: after the devices' return
  };
  std::filesystem::path journal_of(std::string_view id) const;
  // Under mu_: records dn's push_reply; the journal line to append (outside mu_). False: no
  // push sent dn a message.
  // `exact`: only the push whose message to dn had this id (a reply another node forwarded:
  // its message ids are this node's only when the push is).
  bool record_reply(std::string_view pk, std::string_view dn, std::uint64_t id, int code,
                    std::shared_ptr<push_journal>& journal, std::string& line, bool exact = false);
  // The pushes recorded in the directory (constructor).
  void restore_pushes();
  // Shared (constructor): the index from the store, this node's older entries moved there.
  void share_index();
  // This node's files of configuration `id`: the file, its index entry, its push's journal.
  void forget_files(std::string_view id) const;
  // A push_reply this node has no push for, to the other nodes (bounded: see cluster_hooks).
  void forward_reply(std::string_view pk, std::string_view dn, std::uint64_t id, int code);
  // The signed link (an HMAC): built outside mu_, from a copy of url_base_ taken under it.
  std::string link_of(std::string_view base, const config_record& c, std::string_view pk,
                      std::string_view dn) const;
  std::optional<config_record> newest(std::string_view pk) const; // under mu_

  services& services_;
  std::filesystem::path dir_;
  const download_signer& signer_;
  config_options opts_;
  store::ota_store* shared_;
  std::function<void(std::string_view)> observer_;
  cluster_hooks cluster_;

  mutable std::mutex mu_;
  std::string url_base_{"http://127.0.0.1:8080"};
  std::map<std::string, std::vector<config_record>, std::less<>> by_product_; // oldest first
  std::map<std::string, push_state, std::less<>> pushes_;                     // by config id
  std::uint64_t gets_ = 0, sent_ = 0;
  double forward_tokens_ = 0; // replies forwarded: a token bucket
  std::chrono::steady_clock::time_point forward_refilled_{};
  std::uint64_t unforwarded_ = 0;
};

} // namespace thingport::platform
