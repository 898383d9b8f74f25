// What the SQL stores (sql_identity_store.hpp, thing_sql_store.hpp) need of a database
// connection, whatever the engine: cached statements with numbered parameters (?1, ?2... in the
// SQL text, as SQLite writes them; a backend whose engine numbers them otherwise rewrites the
// text once, when it prepares it), transactions, and errors mapped to store::errc. SQLite
// (sqlite_connection.hpp) and PostgreSQL (pg_connection.hpp) implement it. Internal to store/.
//
// Threads: none of this is synchronised. The owner (a store) serialises every use of a
// connection and of the statements it hands out with its own mutex.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "store/result.hpp"

namespace thingport::store::sql {

// One prepared statement of a backend, owned by its connection's cache.
class cursor {
public:
  virtual ~cursor() = default;
  // Parameters are 1-based. Text and bytes are not copied: they must outlive the execution.
  virtual void bind_text(int i, std::string_view text) noexcept = 0;
  virtual void bind_int(int i, std::int64_t v) noexcept = 0;
  virtual void bind_null(int i) noexcept = 0;
  virtual void bind_blob(int i, std::string_view bytes) noexcept = 0;
  // Any bytes for a column of text that may not be text (an RRPC payload): SQLite keeps them in
  // its TEXT column as they are; an engine that checks its text's encoding keeps such a column
  // as bytes (PostgreSQL: bytea).
  virtual void bind_bytes(int i, std::string_view bytes) noexcept { bind_text(i, bytes); }
  // true: a row is there to read; false: no more rows. The error of a failed bind, too.
  virtual result<bool> step() noexcept = 0;
  // Ready to run again with the same bindings.
  virtual void rewind() noexcept = 0;
  // Ready for the next borrower: rows dropped, bindings cleared.
  virtual void release() noexcept = 0;
  // Columns are 0-based, of the current row.
  virtual bool is_null(int col) const noexcept = 0;
  virtual std::string_view text(int col) const noexcept = 0;
  virtual std::string blob(int col) const = 0;
  virtual std::int64_t int64(int col) const noexcept = 0;
  // A column bound with bind_bytes.
  virtual std::string bytes(int col) const { return std::string(text(col)); }
};

// A cached statement borrowed for one use: bind, step, read columns. Released when it goes out
// of scope, so the next user starts clean.
class statement {
public:
  explicit statement(cursor* c) noexcept : c_(c) {}
  statement(statement&& other) noexcept : c_(other.c_) { other.c_ = nullptr; }
  statement& operator=(statement&&) = delete;
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  ~statement() {
    if (c_ != nullptr) {
      c_->release();
    }
  }

  statement& bind(int i, std::string_view text) noexcept {
    c_->bind_text(i, text);
    return *this;
  }
  statement& bind(int i, const std::string& text) noexcept {
    return bind(i, std::string_view(text));
  }
  statement& bind(int i, const char* text) noexcept { return bind(i, std::string_view(text)); }
  statement& bind(int i, std::int64_t v) noexcept {
    c_->bind_int(i, v);
    return *this;
  }
  statement& bind(int i, bool v) noexcept { return bind(i, std::int64_t{v ? 1 : 0}); }
  statement& bind(int i, timestamp t) noexcept { return bind(i, t.time_since_epoch().count()); }
  statement& bind(int i, std::optional<std::string_view> text) noexcept {
    return text ? bind(i, *text) : bind_null(i);
  }
  statement& bind_null(int i) noexcept {
    c_->bind_null(i);
    return *this;
  }
  // Bytes as a BLOB / bytea (binary payloads).
  statement& bind_blob(int i, std::string_view bytes) noexcept {
    c_->bind_blob(i, bytes);
    return *this;
  }

  // Any bytes for a column of bytes-or-text (cursor::bind_bytes); nullopt binds NULL.
  statement& bind_bytes(int i, std::optional<std::string_view> bytes) noexcept {
    if (bytes) {
      c_->bind_bytes(i, *bytes);
    } else {
      c_->bind_null(i);
    }
    return *this;
  }

  // true: a row; false: done.
  result<bool> step() noexcept { return c_->step(); }
  // Steps a statement that returns no rows; an error_code unless it ran to completion.
  std::error_code run() noexcept {
    auto r = step();
    if (!r) {
      return r.error();
    }
    return *r ? make_error_code(errc::storage_failure) : std::error_code{};
  }
  // Ready to step again (bindings kept), for the rows of a batch.
  void reset() noexcept { c_->rewind(); }

  // text() of NULL is empty.
  bool is_null(int col) const noexcept { return c_->is_null(col); }
  std::string text(int col) const { return std::string(c_->text(col)); }
  std::string blob(int col) const { return c_->blob(col); }
  std::optional<std::string> optional_text(int col) const {
    if (is_null(col)) {
      return std::nullopt;
    }
    return text(col);
  }
  std::int64_t int64(int col) const noexcept { return c_->int64(col); }
  std::string bytes(int col) const { return c_->bytes(col); }
  std::optional<std::string> optional_bytes(int col) const {
    if (is_null(col)) {
      return std::nullopt;
    }
    return bytes(col);
  }
  bool boolean(int col) const noexcept { return int64(col) != 0; }
  timestamp time(int col) const noexcept {
    return timestamp{std::chrono::milliseconds{int64(col)}};
  }
  std::optional<timestamp> optional_time(int col) const noexcept {
    if (is_null(col)) {
      return std::nullopt;
    }
    return time(col);
  }

private:
  cursor* c_;
};

class connection {
public:
  connection() = default;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  virtual ~connection() = default;

  // The statement for `sql`, prepared on first use and kept until the connection closes.
  // `sql` must be a string with static storage duration (it is the cache key). One borrower
  // per statement at a time.
  virtual result<statement> prepare(const char* sql) noexcept = 0;
  // Runs statements without results and parameters (COMMIT, SAVEPOINT, DDL).
  virtual std::error_code exec(const char* sql) noexcept = 0;
  // Opens a transaction: a write transaction takes the write lock at once where the engine has
  // one (SQLite's BEGIN IMMEDIATE); a read one is a consistent snapshot.
  virtual std::error_code begin(bool write) noexcept = 0;
  // Rows changed by the last INSERT, UPDATE or DELETE.
  virtual std::int64_t changes() const noexcept = 0;
  virtual bool in_transaction() const noexcept = 0;
  // The engine's last error message, for logs and open errors.
  virtual std::string last_message() const = 0;

  // Deferred execution: between defer() and flush(), statements run for no rows (run(), exec())
  // may be sent without waiting for their answers (PostgreSQL's pipeline mode), which then
  // report success, and flush() returns the first error among them. A backend that runs each at
  // once (SQLite) reports each error at once, and its flush() has nothing to add. No rows can
  // be read and changes() means nothing while deferred.
  // deferred() counts what was sent since defer(); flush() sets `answered` (when given) to how
  // many of those succeeded before the first error.
  virtual void defer() noexcept {}
  virtual std::size_t deferred() const noexcept { return 0; }
  virtual std::error_code flush(std::size_t* answered = nullptr) noexcept {
    if (answered != nullptr) {
      *answered = 0;
    }
    return {};
  }

  // Runs `sql` (no rows) once for each of `rows` rows, bound by bind(statement, i); stops at
  // the first error. Deferred (above) 1,000 rows at a time: on PostgreSQL one round trip per
  // 1,000 rows, and the server is never left writing answers nobody reads yet.
  std::error_code run_batch(const char* sql, std::size_t rows,
                            const std::function<void(statement&, std::size_t)>& bind) {
    constexpr std::size_t chunk = 1000;
    auto s = prepare(sql);
    if (!s) {
      return s.error();
    }
    for (std::size_t start = 0; start < rows; start += chunk) {
      defer();
      std::error_code ec;
      for (std::size_t i = start; i < std::min(rows, start + chunk) && !ec; ++i) {
        bind(*s, i);
        ec = s->run();
        s->reset();
      }
      const auto flushed = flush();
      if (ec || flushed) {
        return ec ? ec : flushed;
      }
    }
    return {};
  }
};

// A transaction, rolled back on scope exit unless commit() succeeded.
class transaction {
public:
  enum class kind : std::uint8_t { read, write };
  explicit transaction(connection& db, kind k = kind::write) noexcept : db_(db) {
    begin_ec_ = db_.begin(k == kind::write);
    open_ = !begin_ec_;
  }
  ~transaction() {
    // A failed statement may already have ended the transaction (disk full, I/O error).
    if (open_ && db_.in_transaction()) {
      db_.exec("ROLLBACK");
    }
  }
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;

  // The error of BEGIN, if it failed; nothing else may be done then.
  std::error_code begin_error() const noexcept { return begin_ec_; }
  std::error_code commit() noexcept {
    if (!open_) {
      return begin_ec_ ? begin_ec_ : make_error_code(errc::storage_failure);
    }
    auto ec = db_.exec("COMMIT");
    if (!ec) {
      open_ = false;
    }
    return ec;
  }

private:
  connection& db_;
  std::error_code begin_ec_;
  bool open_ = false;
};

// ---- helpers over statements ----------------------------------------------------------------

// A step that produced a row (an error is no row).
inline bool has_row(const result<bool>& r) noexcept {
  return r && *r;
}

inline std::int64_t to_sql(std::size_t n) noexcept {
  return static_cast<std::int64_t>(
      std::min<std::size_t>(n, std::numeric_limits<std::int64_t>::max()));
}

// Steps `s` to the end, handing each row to `on_row` (which may return an error_code to stop).
template <typename OnRow> std::error_code for_each_row(statement& s, OnRow&& on_row) {
  for (;;) {
    auto r = s.step();
    if (!r) {
      return r.error();
    }
    if (!*r) {
      return {};
    }
    if (auto ec = on_row(s)) {
      return ec;
    }
  }
}

// Runs a statement without rows after `bind`.
template <typename Bind> std::error_code run(connection& db, const char* text, Bind&& bind) {
  auto s = db.prepare(text);
  if (!s) {
    return s.error();
  }
  bind(*s);
  return s->run();
}

// Runs an UPDATE or DELETE that must touch one row: not_found when it touched none.
template <typename Bind> result<void> change_one(connection& db, const char* text, Bind&& bind) {
  if (auto ec = run(db, text, bind)) {
    return ec;
  }
  if (db.changes() == 0) {
    return make_error_code(errc::not_found);
  }
  return {};
}

// The rows of a query, each read by `read`.
template <typename T, typename Bind, typename Read>
result<std::vector<T>> rows(connection& db, const char* text, Bind&& bind, Read&& read) {
  auto s = db.prepare(text);
  if (!s) {
    return s.error();
  }
  bind(*s);
  std::vector<T> out;
  if (auto ec = for_each_row(*s, [&](const statement& row) {
        out.push_back(read(row));
        return std::error_code{};
      })) {
    return ec;
  }
  return out;
}

// The first row of a query read by `read`, or nullopt when there is none.
template <typename T, typename Bind, typename Read>
result<std::optional<T>> first_row(connection& db, const char* text, Bind&& bind, Read&& read) {
  // In place: an error_code would also convert to the optional when T is a result.
  using out = result<std::optional<T>>;
  auto s = db.prepare(text);
  if (!s) {
    return out(boost::system::in_place_error, s.error());
  }
  bind(*s);
  auto r = s->step();
  if (!r) {
    return out(boost::system::in_place_error, r.error());
  }
  if (!*r) {
    return out(boost::system::in_place_value, std::nullopt);
  }
  return out(boost::system::in_place_value, read(*s));
}

// The one row a query must return, read by `read`: not_found when there is none.
template <typename T, typename Bind, typename Read>
result<T> one_row(connection& db, const char* text, Bind&& bind, Read&& read) {
  auto row = first_row<T>(db, text, bind, read);
  if (!row) {
    return row.error();
  }
  if (!*row) {
    return make_error_code(errc::not_found);
  }
  return std::move(**row);
}

// A statement that must return one row (INSERT ... RETURNING, count(*)): its first column.
template <typename Bind>
result<std::int64_t> returning(connection& db, const char* text, Bind&& bind) {
  auto row = first_row<std::int64_t>(db, text, bind, [](const statement& s) { return s.int64(0); });
  if (!row) {
    return row.error();
  }
  if (!*row) {
    return make_error_code(errc::corrupt);
  }
  return **row;
}

// Runs `text` once per item, bound by `bind(statement, item)`.
template <typename T, typename Bind>
std::error_code run_each(connection& db, std::span<const T> items, const char* text, Bind&& bind) {
  for (const T& item : items) {
    if (auto ec = run(db, text, [&](statement& s) { bind(s, item); })) {
      return ec;
    }
  }
  return {};
}

} // namespace thingport::store::sql
