#include "store/session_sqlite.hpp"

#include <sqlite3.h>

#include <string>

#include "store/session_sql.hpp"
#include "store/sqlite_connection.hpp"

namespace thingport::store {

namespace {

// Schema version 1 of the session database (docs/store-format.md). Migrations only ever append.
constexpr const char* schema_v1 = R"sql(
CREATE TABLE session (
  key        TEXT    NOT NULL PRIMARY KEY,
  created_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE subscription (
  session_key TEXT    NOT NULL REFERENCES session (key) ON DELETE CASCADE,
  filter      TEXT    NOT NULL,
  qos         INTEGER NOT NULL CHECK (qos IN (0, 1, 2)),
  PRIMARY KEY (session_key, filter)
) STRICT, WITHOUT ROWID;

CREATE TABLE message (
  id         INTEGER PRIMARY KEY,
  topic      TEXT    NOT NULL,
  payload    BLOB    NOT NULL,
  qos        INTEGER NOT NULL CHECK (qos IN (1, 2)),
  retain     INTEGER NOT NULL CHECK (retain IN (0, 1)),
  expires_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX message_by_expiry ON message (expires_ms) WHERE expires_ms > 0;

CREATE TABLE entry (
  session_key TEXT    NOT NULL REFERENCES session (key) ON DELETE CASCADE,
  seq         INTEGER NOT NULL,
  message_id  INTEGER NOT NULL REFERENCES message (id),
  qos         INTEGER NOT NULL CHECK (qos IN (1, 2)),
  retain      INTEGER NOT NULL CHECK (retain IN (0, 1)),
  state       INTEGER NOT NULL CHECK (state IN (0, 1, 2)),
  packet_id   INTEGER NOT NULL CHECK (packet_id BETWEEN 0 AND 65535),
  PRIMARY KEY (session_key, seq)
) STRICT, WITHOUT ROWID;

CREATE INDEX entry_by_message ON entry (message_id);
)sql";

constexpr sqlite::migration migrations[] = {{1, schema_v1}};
static_assert(std::size(migrations) == session_schema_version);
constexpr sqlite::schema_spec spec_sync{"session database", session_application_id, migrations,
                                        true};
constexpr sqlite::schema_spec spec_async{"session database", session_application_id, migrations,
                                         false};

// The statements, as static strings (the connection's cache key).
constexpr const char* sql_put_session =
    "INSERT INTO session (key, created_ms) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING";
constexpr const char* sql_entry_messages =
    "SELECT DISTINCT message_id FROM entry WHERE session_key = ?1";
constexpr const char* sql_delete_session = "DELETE FROM session WHERE key = ?1";
constexpr const char* sql_put_subscription =
    "INSERT INTO subscription (session_key, filter, qos) SELECT ?1, ?2, ?3 "
    "WHERE EXISTS (SELECT 1 FROM session WHERE key = ?1) "
    "ON CONFLICT (session_key, filter) DO UPDATE SET qos = excluded.qos";
constexpr const char* sql_delete_subscription =
    "DELETE FROM subscription WHERE session_key = ?1 AND filter = ?2";
constexpr const char* sql_put_message =
    "INSERT INTO message (id, topic, payload, qos, retain, expires_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING";
// An entry whose session was deleted meanwhile is dropped, not an error: the batch that holds it
// also holds other sessions' messages.
constexpr const char* sql_put_entry =
    "INSERT OR REPLACE INTO entry (session_key, seq, message_id, qos, retain, state, packet_id) "
    "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE EXISTS (SELECT 1 FROM session WHERE key = ?1) "
    "AND EXISTS (SELECT 1 FROM message WHERE id = ?3)";
constexpr const char* sql_set_entry_state =
    "UPDATE entry SET state = ?3, packet_id = ?4 WHERE session_key = ?1 AND seq = ?2";
constexpr const char* sql_delete_entry = "DELETE FROM entry WHERE session_key = ?1 AND seq = ?2";
constexpr const char* sql_gc_message =
    "DELETE FROM message WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM entry WHERE message_id = ?1)";
constexpr const char* sql_expire_entries =
    "DELETE FROM entry WHERE message_id IN "
    "(SELECT id FROM message WHERE expires_ms > 0 AND expires_ms <= ?1)";
constexpr const char* sql_expire_messages =
    "DELETE FROM message WHERE expires_ms > 0 AND expires_ms <= ?1";

constexpr const char* sql_used_bytes =
    "SELECT max(p.page_count - f.freelist_count, 0) * s.page_size "
    "FROM pragma_page_count() AS p, pragma_freelist_count() AS f, pragma_page_size() AS s";

constexpr const char* sql_load_sessions = "SELECT key, created_ms FROM session";
constexpr const char* sql_load_subscriptions = "SELECT session_key, filter, qos FROM subscription";
constexpr const char* sql_load_messages =
    "SELECT id, topic, payload, qos, retain, expires_ms FROM message "
    "WHERE EXISTS (SELECT 1 FROM entry WHERE message_id = message.id) ORDER BY id";
constexpr const char* sql_load_entries =
    "SELECT session_key, seq, message_id, qos, retain, state, packet_id FROM entry "
    "ORDER BY session_key, seq";

std::int64_t i64(std::uint64_t v) noexcept {
  return static_cast<std::int64_t>(v);
}

using sql::run;

std::error_code gc_message(sqlite::connection& db, std::uint64_t id) {
  return run(db, sql_gc_message, [&](sqlite::statement& s) { s.bind(1, i64(id)); });
}

struct applier {
  sqlite::connection& db;

  std::error_code operator()(const put_session& op) {
    return run(db, sql_put_session,
               [&](sqlite::statement& s) { s.bind(1, op.key).bind(2, op.created); });
  }
  std::error_code operator()(const delete_session& op) {
    std::vector<std::int64_t> ids;
    {
      auto s = db.prepare(sql_entry_messages);
      if (!s)
        return s.error();
      s->bind(1, op.key);
      if (auto ec = sql::for_each_row(*s, [&](const sql::statement& row) {
            ids.push_back(row.int64(0));
            return std::error_code{};
          }))
        return ec;
    }
    if (auto ec = run(db, sql_delete_session, [&](sqlite::statement& s) { s.bind(1, op.key); }))
      return ec;
    for (auto id : ids)
      if (auto ec = gc_message(db, static_cast<std::uint64_t>(id)))
        return ec;
    return {};
  }
  std::error_code operator()(const put_subscription& op) {
    return run(db, sql_put_subscription, [&](sqlite::statement& s) {
      s.bind(1, op.session_key).bind(2, op.filter).bind(3, std::int64_t{op.qos});
    });
  }
  std::error_code operator()(const delete_subscription& op) {
    return run(db, sql_delete_subscription,
               [&](sqlite::statement& s) { s.bind(1, op.session_key).bind(2, op.filter); });
  }
  std::error_code operator()(const put_message& op) {
    return run(db, sql_put_message, [&](sqlite::statement& s) {
      s.bind(1, i64(op.id)).bind(2, op.topic).bind_blob(3, op.payload);
      s.bind(4, std::int64_t{op.qos}).bind(5, op.retain).bind(6, op.expires_at);
    });
  }
  std::error_code operator()(const put_entry& op) {
    return run(db, sql_put_entry, [&](sqlite::statement& s) {
      s.bind(1, op.session_key).bind(2, i64(op.seq)).bind(3, i64(op.message_id));
      s.bind(4, std::int64_t{op.qos}).bind(5, op.retain);
      s.bind(6, std::int64_t{static_cast<std::uint8_t>(op.state)});
      s.bind(7, std::int64_t{op.packet_id});
    });
  }
  std::error_code operator()(const set_entry_state& op) {
    return run(db, sql_set_entry_state, [&](sqlite::statement& s) {
      s.bind(1, op.session_key).bind(2, i64(op.seq));
      s.bind(3, std::int64_t{static_cast<std::uint8_t>(op.state)});
      s.bind(4, std::int64_t{op.packet_id});
    });
  }
  std::error_code operator()(const delete_entry& op) {
    if (auto ec = run(db, sql_delete_entry, [&](sqlite::statement& s) {
          s.bind(1, op.session_key).bind(2, i64(op.seq));
        }))
      return ec;
    return gc_message(db, op.message_id);
  }
  std::error_code operator()(const delete_expired& op) {
    if (auto ec = run(db, sql_expire_entries, [&](sqlite::statement& s) { s.bind(1, op.now); }))
      return ec;
    return run(db, sql_expire_messages, [&](sqlite::statement& s) { s.bind(1, op.now); });
  }
};

// Steps `sql` to the end, handing each row to `row`.
template <typename Row>
std::error_code for_rows(sqlite::connection& db, const char* text, Row&& row) {
  auto s = db.prepare(text);
  if (!s)
    return s.error();
  return sql::for_each_row(*s, [&](sql::statement& r) {
    row(r);
    return std::error_code{};
  });
}

// The one integer that `sql` answers.
std::error_code read_u64(sqlite::connection& db, const char* sql, std::uint64_t& out) {
  return for_rows(db, sql,
                  [&](sqlite::statement& s) { out = static_cast<std::uint64_t>(s.int64(0)); });
}

} // namespace

sqlite_session_store::sqlite_session_store(const std::filesystem::path& file,
                                           sqlite_session_options opts)
    : db_(std::make_unique<sqlite::connection>(file, opts.busy_timeout,
                                               opts.sync ? spec_sync : spec_async)) {}

sqlite_session_store::~sqlite_session_store() = default;

std::error_code sqlite_session_store::apply(std::span<const session_op> ops) {
  std::lock_guard lock(mu_);
  sqlite::transaction tx(*db_);
  if (tx.begin_error())
    return tx.begin_error();
  applier a{*db_};
  for (const auto& op : ops)
    if (auto ec = std::visit(a, op))
      return ec; // rolled back by tx
  return tx.commit();
}

std::error_code sqlite_session_store::load_all(session_sink& sink) {
  std::lock_guard lock(mu_);
  sqlite::transaction tx(*db_, sqlite::transaction::kind::read);
  if (tx.begin_error())
    return tx.begin_error();
  return sql::load_sessions(
      *db_, {sql_load_sessions, sql_load_subscriptions, sql_load_messages, sql_load_entries},
      [](sql::statement&) {}, sink);
}

result<session_counts> sqlite_session_store::counts() {
  std::lock_guard lock(mu_);
  session_counts c;
  if (auto ec = read_u64(*db_, "SELECT count(*) FROM session", c.sessions))
    return ec;
  if (auto ec = read_u64(*db_, "SELECT count(*) FROM subscription", c.subscriptions))
    return ec;
  if (auto ec = read_u64(*db_, "SELECT count(*) FROM message", c.messages))
    return ec;
  if (auto ec = read_u64(*db_, "SELECT count(*) FROM entry", c.entries))
    return ec;
  return c;
}

result<std::uint64_t> sqlite_session_store::used_bytes() {
  std::lock_guard lock(mu_);
  // One statement (the writer runs it after every commit): pages in use times their size.
  std::uint64_t bytes = 0;
  if (auto ec = read_u64(*db_, sql_used_bytes, bytes))
    return ec;
  return bytes;
}

result<std::vector<std::string>> sqlite_session_store::check() {
  std::lock_guard lock(mu_);
  std::vector<std::string> problems;
  auto ec = for_rows(*db_, "PRAGMA integrity_check", [&](sqlite::statement& s) {
    if (auto line = s.text(0); line != "ok")
      problems.push_back(std::move(line));
  });
  if (ec)
    return ec;
  return problems;
}

} // namespace thingport::store
