// OTA and remote configuration for a device (docs/ota.md, docs/protocol.md "OTA"): report the
// running version (/ota/device/inform), receive upgrade messages (/ota/device/upgrade), report
// progress, ask for a pending upgrade; ask for the product's configuration (thing.config.get)
// and receive its pushes (thing/config/push, answered on push_reply). download_file() fetches a
// firmware or configuration over HTTP(S), resuming a partial file with Range, and checks its
// size, MD5 and SHA-256.
//
// Threads: like the client, handlers run on the client's strand and must not block (hand the
// download to another thread); the member functions may be called from any thread.
// download_file() blocks: never call it from a handler. The client must outlive the ota.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include "thingport/device/client.hpp"

namespace thingport::device {

struct upgrade_info {
  std::string version, module = "default", url;
  std::uint64_t size = 0;
  std::string md5, sha256; // lower-case hex; sha256 empty when the sign method is not SHA256
  std::string sign, sign_method;
};

struct config_info {
  std::string id; // the message's id (a push's is echoed in its push_reply)
  int code = 200; // get: the reply's code (404: the product has no configuration)
  std::string config_id, url, sign, sign_method, get_type;
  std::uint64_t size = 0;
};

class ota {
public:
  using upgrade_handler = std::function<void(const upgrade_info&)>;
  using config_handler = std::function<void(std::error_code, const config_info&)>;
  // Returns the push_reply's code (200: taken).
  using push_handler = std::function<int(const config_info&)>;

  // Subscribes `c` to /ota/device/upgrade and the device's thing/config topics. Throws
  // std::invalid_argument when the client has no device triplet.
  explicit ota(client& c, std::chrono::milliseconds reply_timeout = std::chrono::seconds(10));
  ~ota();
  ota(const ota&) = delete;
  ota& operator=(const ota&) = delete;

  void on_upgrade(upgrade_handler h);
  // /ota/device/inform {"id","params":{"version","module"?}}.
  void inform(std::string version, std::string module = "default");
  // /ota/device/progress {"id","params":{"step":"N","desc","module"?}}: 0..100, or -1 upgrade
  // failed, -2 download failed, -3 verify failed, -4 burn failed.
  void progress(int step, std::string desc = {}, std::string module = {});
  // /ota/device/request: the platform answers with the upgrade message when one is pending.
  void request(std::string version, std::string module = "default");

  // thing.config.get; `done` gets the reply (errc::reply_timeout, errc::bad_reply).
  void get_config(config_handler done);
  // thing/config/push: the handler's code is sent on push_reply. Without a handler: 200.
  void on_config_push(push_handler h);

  struct state;

private:
  std::shared_ptr<state> state_;
};

struct download_request {
  std::string url;            // http:// or https://
  std::filesystem::path file; // appended to when it holds a first part (resume), else created
  std::uint64_t size = 0;     // expected, and nothing past it is kept; 0: not checked
  std::string md5, sha256;    // expected, lower-case hex; empty: not checked
  std::string ca_file;        // https: the CA (empty: the system's)
  std::chrono::milliseconds timeout{30000}; // per attempt, between two pieces
  unsigned attempts = 3;                    // each resumes where the file ends
  // Stop an attempt after this many bytes (0: never): to test the resume.
  std::uint64_t cut_after = 0;
  std::function<void(std::uint64_t have, std::uint64_t total)> progress; // on the caller's thread
};

struct download_result {
  std::error_code error;         // ok: the whole file is there and its digests match
  std::uint64_t bytes = 0;       // the file's size at the end
  unsigned attempts = 0;         // HTTP requests made
  std::uint64_t first_start = 0; // where the first request started (a resumed file's size)
  std::uint64_t last_start = 0;  // where the last request started
};

// Blocks until the file is complete and checked, or the attempts are spent.
download_result download_file(const download_request& r);

} // namespace thingport::device
