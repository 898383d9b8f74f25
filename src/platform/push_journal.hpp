// The record of one configuration push on disk (docs/ota.md "Remote configuration"), so that a
// restart (or kill -9) resumes the push where it was and sends no device the push twice:
// data/config/<configId>.push, text lines. The head and the device list are written whole
// (a temporary file, synced, renamed); then each device's step is appended: `s` (sent: synced
// before the message goes out), `o` (offline when its turn came), `r` (its push_reply: appended,
// not synced; a crash may forget the last replies, never a send).
//
//   thingport-push 1 <productKey> <ratePerMinute> <startedMs> <devices>
//   <deviceName>                       (devices lines, in push order)
//   s <index> <messageId> <atMs> | o <index> <atMs> | r <index> <code> <atMs>
//
// Threads: append() from any thread (one write(2) with O_APPEND per call).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace thingport::platform {

struct push_head {
  std::string product_key{};
  std::uint32_t rate_per_minute = 0;
  std::int64_t started_ms = 0;
};

struct push_step {
  char kind = 's'; // 's' sent, 'o' offline, 'r' replied
  std::size_t index = 0;
  std::uint64_t message_id = 0; // 's'
  int code = 0;                 // 'r'
  std::int64_t at_ms = 0;
};

class push_journal {
public:
  // A new journal at `file` holding the head and the names (replacing one there). Null when it
  // could not be written (logged).
  static std::shared_ptr<push_journal> create(const std::filesystem::path& file,
                                              const push_head& head,
                                              std::span<const std::string> names);
  // An existing journal opened for appending; null when it cannot be.
  static std::shared_ptr<push_journal> reopen(const std::filesystem::path& file);

  struct contents {
    push_head head;
    std::vector<std::string> names;
    std::vector<push_step> steps; // in file order; indexes checked against names
  };
  // What a journal holds; nullopt when it is not one (or names more than `max_devices`). A torn
  // last line (a crash while appending) is ignored.
  static std::optional<contents> read(const std::filesystem::path& file, std::size_t max_devices);

  ~push_journal();
  push_journal(const push_journal&) = delete;
  push_journal& operator=(const push_journal&) = delete;

  // Appends `lines` (whole lines); with `sync`, on disk when it returns true.
  bool append(std::string_view lines, bool sync);

  static std::string line(const push_step& s);

private:
  explicit push_journal(int fd) : fd_(fd) {}
  int fd_ = -1;
};

} // namespace thingport::platform
