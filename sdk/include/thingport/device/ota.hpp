// OTA and remote configuration for a device (docs/ota.md, docs/protocol.md "OTA"): report the
// running version (/ota/device/inform), receive upgrade messages (/ota/device/upgrade), report
// progress, ask for a pending upgrade; ask for the product's configuration (thing.config.get)
// and receive its pushes (thing/config/push, answered on push_reply). download_file() fetches a
// firmware or configuration over HTTP(S), resuming a partial file with Range, and checks its
// size, MD5 and SHA-256; ota::download_blocks() fetches a firmware over MQTT in blocks
// (thing/file/download) for an upgrade message that names a stream instead of a URL.
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
  // "mqtt" (dProtocol): no url; fetch stream_id / stream_file_id with ota::download_blocks().
  std::string protocol = "https";
  std::uint64_t stream_id = 0, stream_file_id = 0;
};

struct config_info {
  std::string id; // the message's id (a push's is echoed in its push_reply)
  int code = 200; // get: the reply's code (404: the product has no configuration)
  std::string config_id, url, sign, sign_method, get_type;
  std::uint64_t size = 0;
};

struct download_result;

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

  // Fetches the stream over MQTT in blocks (docs/protocol.md "OTA: MQTT block download"), one
  // block in flight: appends each block whose CRC and offset check out to r.file (a file that
  // holds a first part is resumed where it ends), asks again for the block after
  // r.block_timeout or at once when the link comes back after a reconnect, then checks size,
  // MD5 and SHA-256. `done` runs once, on the client's strand. One download at a time: a second
  // one while the first runs fails with errc::invalid_argument, as does a request without
  // stream_id or size. Destroying the ota drops a running download without calling `done`.
  struct block_download_request;
  using block_done = std::function<void(const download_result&)>;
  void download_blocks(block_download_request r, block_done done);

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
  unsigned attempts = 0;         // HTTP requests made (blocks: block requests made)
  std::uint64_t first_start = 0; // where the first request started (a resumed file's size)
  std::uint64_t last_start = 0;  // where the last request started (blocks: the last re-ask)
  unsigned resumes = 0;          // blocks: re-asks after a reconnect or a reply timeout
};

// A stream served in blocks. Errors: errc::reply_timeout (a block unanswered `block_attempts`
// times), errc::http_status (a reply code other than 200), errc::bad_reply (a reply that
// contradicts the request: length, offset), errc::digest_mismatch, errc::stopped (the client
// stopped).
struct ota::block_download_request {
  std::uint64_t stream_id = 0, file_id = 1;       // from upgrade_info
  std::string file_token = "default";             // echoed by the server
  std::filesystem::path file;                     // appended to when it holds a first part
  std::uint64_t size = 0;                         // the file's size: the download ends there
  std::string md5, sha256;                        // expected, lower-case hex; empty: not checked
  std::uint32_t block_size = 5120;                // 1..65536 (the server's bound)
  std::chrono::milliseconds block_timeout{10000}; // ask the same block again after this
  unsigned block_attempts = 3;                    // per block, then errc::reply_timeout
  // A pause between a block and the next request: a device that paces its own download (the
  // server drops requests past 200 a second per device).
  std::chrono::milliseconds block_interval{0};
  // After each block, on the client's strand.
  std::function<void(std::uint64_t have, std::uint64_t total)> progress;
};

// Blocks until the file is complete and checked, or the attempts are spent.
download_result download_file(const download_request& r);

} // namespace thingport::device
