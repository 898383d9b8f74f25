// The embedded identity store: one SQLite file (WAL, synchronous=FULL, foreign keys on),
// schema in docs/store-format.md. The statements are sql_identity_store's.
//
// Several processes may open the same file (the busy timeout then applies), but a server owns
// its data directory; the CLI goes through the HTTP API.
#pragma once

#include <chrono>
#include <filesystem>

#include "store/sql_identity_store.hpp"

namespace thingport::store {

struct sqlite_options {
  // How long a write waits for another process's write lock before storage_failure.
  std::chrono::milliseconds busy_timeout{5000};
};

class sqlite_identity_store final : public sql_identity_store {
public:
  // Opens `file`, creating it when absent (its directory must exist), and migrates the schema
  // to the version this build knows. Throws store::open_error when the file cannot be opened,
  // is not a SQLite database or not thingport's, is damaged, or has a newer schema version.
  explicit sqlite_identity_store(const std::filesystem::path& file, sqlite_options opts = {});
};

} // namespace thingport::store
