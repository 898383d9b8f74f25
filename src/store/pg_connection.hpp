// One PostgreSQL connection (libpq) as sql::connection (sql_connection.hpp), for the store's
// PostgreSQL backends (pg_store.hpp). Statements are prepared on the server once per connection,
// their ?N parameters rewritten to $N; values travel as text (bytes as binary), so every value
// is a parameter and never part of the SQL text. Internal to store/.
//
// Connection loss: a statement on a broken connection fails with storage_failure (HTTP 503).
// Outside a transaction the next use reconnects (at most once per reconnect_interval), so the
// store comes back by itself when the server does; inside one, every statement fails until the
// owner's ROLLBACK, so a transaction is never finished on a new connection in autocommit.
//
// Threads: none of this is synchronised (see sql_connection.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/sql_connection.hpp"

struct pg_conn;

namespace thingport::store::pg {

// A SQLSTATE as a store error: unique violation → already_exists, foreign key → not_found,
// data corrupted → corrupt, anything else → storage_failure.
std::error_code to_error(std::string_view sqlstate) noexcept;

// The URL with any password replaced by "***", for logs and errors.
std::string redact(std::string_view url);

// What the constructor throws when the server cannot be reached or refuses the login (as
// opposed to a database it cannot use): worth retrying.
class unreachable : public open_error {
public:
  using open_error::open_error;
};

struct options {
  // postgresql://user[:password]@host:port/db?sslmode=...; libpq's own environment
  // (PGPASSWORD, PGPASSFILE, PGSSLMODE...) fills what the URL leaves out.
  std::string url{};
  // A file holding the password (its first line), for deployments that keep it out of the URL
  // and the environment. Empty: none.
  std::string password_file{};
  std::chrono::seconds connect_timeout{5};
  std::chrono::milliseconds reconnect_interval{1000};
};

class connection final : public sql::connection {
public:
  // Connects; throws unreachable (naming the server, never the password) when it cannot.
  explicit connection(options opts);
  ~connection() override;

  result<sql::statement> prepare(const char* sql) noexcept override;
  std::error_code exec(const char* sql) noexcept override;
  std::error_code begin(bool write) noexcept override;
  std::int64_t changes() const noexcept override;
  bool in_transaction() const noexcept override { return in_tx_; }
  std::string last_message() const override;
  // Pipeline mode: statements and exec() are sent, their answers read at flush().
  void defer() noexcept override;
  std::size_t deferred() const noexcept override { return pending_; }
  std::error_code flush(std::size_t* answered = nullptr) noexcept override;

  bool connected() const noexcept;
  // Counts reconnects: what lives in a server session (advisory locks, SET) is gone when it moves.
  std::uint64_t generation() const noexcept { return generation_; }

private:
  class cursor;
  friend class cursor;

  // Reconnects when the connection broke and no transaction is open; false when it is down.
  bool usable() noexcept;
  // A result's outcome: its error (and the message kept), or the changed-row count recorded.
  std::error_code note(void* res) noexcept;

  options opts_;
  std::string conninfo_;
  pg_conn* conn_ = nullptr;
  bool in_pipeline() const noexcept;

  bool in_tx_ = false;
  bool deferring_ = false;
  std::size_t pending_ = 0;                     // statements sent in the deferred pipeline
  std::vector<cursor*> prepared_in_pipeline_{}; // their PREPAREs went in it
  bool tx_failed_ = false;                      // the connection broke inside the open transaction
  std::int64_t changes_ = 0;
  std::uint64_t generation_ = 0; // bumped at each reconnect: server-side statements are gone
  std::chrono::steady_clock::time_point last_attempt_{};
  std::string message_;
  std::unordered_map<const char*, std::unique_ptr<cursor>> cache_;
  unsigned next_name_ = 0;
};

} // namespace thingport::store::pg
