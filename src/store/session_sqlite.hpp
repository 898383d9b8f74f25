// The embedded session store: SQLite in WAL mode, one file (data/sessions.db), schema in
// docs/store-format.md ("Session database"). Only the session_writer's thread writes in the
// server; load_all() runs once at start, before it.
//
// Threads: every member may be called from any thread; one mutex serialises them.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>

#include "store/session_store.hpp"

namespace thingport::store {

namespace sqlite {
class connection;
}

// PRAGMA application_id of a thingport session database ("TPse"), and the schema version this
// build writes and reads (docs/store-format.md).
inline constexpr std::int32_t session_application_id = 0x54507365;
inline constexpr int session_schema_version = 1;

struct sqlite_session_options {
  // true ("sync"): synchronous = FULL, a commit survives power loss. false ("async"):
  // synchronous = NORMAL, a commit survives a crash of the process but maybe not of the machine.
  bool sync = true;
  std::chrono::milliseconds busy_timeout{5000};
};

class sqlite_session_store final : public session_store {
public:
  // Opens or creates `file`; throws open_error naming the file when it cannot be used.
  explicit sqlite_session_store(const std::filesystem::path& file,
                                sqlite_session_options opts = {});
  ~sqlite_session_store() override;

  std::error_code apply(std::span<const session_op> ops) override;
  std::error_code load_all(session_sink& sink) override;
  result<session_counts> counts() override;
  result<std::vector<std::string>> check() override;
  result<std::uint64_t> used_bytes() override;

private:
  std::mutex mu_;
  std::unique_ptr<sqlite::connection> db_;
};

} // namespace thingport::store
