// The embedded thing store: SQLite, in the same file as the identity store (data/identity.db),
// so that thing data can reference devices. The thing tables carry their own schema version
// (thing_meta), migrated on open like the identity schema. The statements are sql_thing_store's.
//
// Durability: telemetry is written with synchronous = NORMAL on this store's own connection
// (WAL: a commit survives a crash of the process, the last ones may not survive power loss);
// sqlite_thing_options::durable = true makes every commit wait for the disk as identity
// writes do. Writes run in BEGIN IMMEDIATE transactions; the identity store keeps its own
// connection to the file, and the two wait for each other's write lock through the busy timeout.
#pragma once

#include <chrono>
#include <filesystem>

#include "store/thing_sql_store.hpp"

namespace thingport::store {

struct sqlite_thing_options {
  std::chrono::milliseconds busy_timeout{5000};
  retention keep{};
  bool durable = false; // synchronous = FULL instead of NORMAL
};

class sqlite_thing_store final : public sql_thing_store {
public:
  // Opens `file` (created with the identity schema when absent; its directory must exist) and
  // migrates the thing schema. Throws store::open_error as sqlite_identity_store does, and
  // when the thing schema is newer than this build.
  explicit sqlite_thing_store(const std::filesystem::path& file, sqlite_thing_options opts = {});
};

} // namespace thingport::store
