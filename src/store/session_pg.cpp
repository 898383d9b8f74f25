#include "store/session_pg.hpp"

#include <thread>
#include <variant>

#include "store/pg_store.hpp"
#include "store/session_sql.hpp"

namespace thingport::store {

namespace {

// Every statement names the node whose rows it touches as ?1. Values in a SELECT list are cast:
// their type is not inferred from the columns they go to.
constexpr const char* sql_put_session =
    "INSERT INTO mqtt_session (node, key, created_ms) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING";
// The session's entries, the session (its subscriptions by cascade), and the messages only those
// entries pointed at, in one statement. Its NOT EXISTS sees the entries as they were before it.
constexpr const char* sql_delete_session =
    "WITH gone AS (DELETE FROM mqtt_entry WHERE node = ?1 AND session_key = ?2 "
    "RETURNING message_id), s AS (DELETE FROM mqtt_session WHERE node = ?1 AND key = ?2) "
    "DELETE FROM mqtt_message m WHERE m.node = ?1 AND m.id IN (SELECT message_id FROM gone) "
    "AND NOT EXISTS (SELECT 1 FROM mqtt_entry e WHERE e.node = ?1 AND e.message_id = m.id "
    "AND e.session_key <> ?2)";
constexpr const char* sql_put_subscription =
    "INSERT INTO mqtt_subscription (node, session_key, filter, qos) "
    "SELECT ?1::text, ?2::text, ?3::text, ?4::bigint "
    "WHERE EXISTS (SELECT 1 FROM mqtt_session WHERE node = ?1 AND key = ?2) "
    "ON CONFLICT (node, session_key, filter) DO UPDATE SET qos = excluded.qos";
constexpr const char* sql_delete_subscription =
    "DELETE FROM mqtt_subscription WHERE node = ?1 AND session_key = ?2 AND filter = ?3";
constexpr const char* sql_put_message =
    "INSERT INTO mqtt_message (node, id, topic, payload, qos, retain, expires_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (node, id) DO NOTHING";
// Dropped, not an error, when its session was deleted meanwhile (as on SQLite).
constexpr const char* sql_put_entry =
    "INSERT INTO mqtt_entry (node, session_key, seq, message_id, qos, retain, state, packet_id) "
    "SELECT ?1::text, ?2::text, ?3::bigint, ?4::bigint, ?5::bigint, ?6::bigint, ?7::bigint, "
    "?8::bigint WHERE EXISTS (SELECT 1 FROM mqtt_session WHERE node = ?1 AND key = ?2) "
    "AND EXISTS (SELECT 1 FROM mqtt_message WHERE node = ?1 AND id = ?4) "
    "ON CONFLICT (node, session_key, seq) DO UPDATE SET message_id = excluded.message_id, "
    "qos = excluded.qos, retain = excluded.retain, state = excluded.state, "
    "packet_id = excluded.packet_id";
constexpr const char* sql_set_entry_state = "UPDATE mqtt_entry SET state = ?4, packet_id = ?5 "
                                            "WHERE node = ?1 AND session_key = ?2 AND seq = ?3";
constexpr const char* sql_delete_entry =
    "WITH d AS (DELETE FROM mqtt_entry WHERE node = ?1 AND session_key = ?2 AND seq = ?3) "
    "DELETE FROM mqtt_message m WHERE m.node = ?1 AND m.id = ?4 AND NOT EXISTS (SELECT 1 FROM "
    "mqtt_entry e WHERE e.node = ?1 AND e.message_id = ?4 AND NOT (e.session_key = ?2 AND "
    "e.seq = ?3))";
constexpr const char* sql_expire_entries =
    "DELETE FROM mqtt_entry WHERE node = ?1 AND message_id IN (SELECT id FROM mqtt_message "
    "WHERE node = ?1 AND expires_ms > 0 AND expires_ms <= ?2)";
constexpr const char* sql_expire_messages =
    "DELETE FROM mqtt_message WHERE node = ?1 AND expires_ms > 0 AND expires_ms <= ?2";

// Loads: a node's sessions, or (?2) one of them. Entries in byte order of their keys, as on
// SQLite.
constexpr sql::session_queries load_node{
    "SELECT key, created_ms FROM mqtt_session WHERE node = ?1",
    "SELECT session_key, filter, qos FROM mqtt_subscription WHERE node = ?1",
    "SELECT id, topic, payload, qos, retain, expires_ms FROM mqtt_message m WHERE node = ?1 AND "
    "EXISTS (SELECT 1 FROM mqtt_entry e WHERE e.node = ?1 AND e.message_id = m.id) ORDER BY id",
    "SELECT session_key, seq, message_id, qos, retain, state, packet_id FROM mqtt_entry "
    "WHERE node = ?1 ORDER BY session_key COLLATE \"C\", seq"};
constexpr sql::session_queries load_key{
    "SELECT key, created_ms FROM mqtt_session WHERE node = ?1 AND key = ?2",
    "SELECT session_key, filter, qos FROM mqtt_subscription WHERE node = ?1 AND session_key = ?2",
    "SELECT id, topic, payload, qos, retain, expires_ms FROM mqtt_message m WHERE node = ?1 AND "
    "EXISTS (SELECT 1 FROM mqtt_entry e WHERE e.node = ?1 AND e.session_key = ?2 AND "
    "e.message_id = m.id) ORDER BY id",
    "SELECT session_key, seq, message_id, qos, retain, state, packet_id FROM mqtt_entry "
    "WHERE node = ?1 AND session_key = ?2 ORDER BY seq"};

// One lock per node's rows: (the class "TPss", the hash of the node's name). Two names with the
// same hash share a lock: a node then waits for the other's takeover to end, nothing worse.
constexpr const char* sql_try_lock =
    "SELECT CASE WHEN pg_try_advisory_lock(1414558579, hashtext(?1)) THEN 1 ELSE 0 END";
constexpr const char* sql_unlock =
    "SELECT CASE WHEN pg_advisory_unlock(1414558579, hashtext(?1)) THEN 1 ELSE 0 END";
constexpr const char* sql_async = "SELECT set_config('synchronous_commit', 'off', false)";
// The server probes this connection when it is idle: a node whose host vanished (no FIN, no RST)
// loses its lock within about 25 s instead of the system's default two hours.
constexpr const char* sql_keepalive = "SELECT set_config('tcp_keepalives_idle', '10', false), "
                                      "set_config('tcp_keepalives_interval', '5', false), "
                                      "set_config('tcp_keepalives_count', '3', false)";

constexpr const char* sql_holder =
    "SELECT node FROM mqtt_session WHERE key = ?2 AND node <> ?1 ORDER BY node LIMIT 1";
// The distinct nodes one index probe each (a loose index scan), not a scan of every session.
constexpr const char* sql_nodes =
    "WITH RECURSIVE n (node) AS (SELECT min(node) FROM mqtt_session UNION ALL SELECT (SELECT "
    "min(node) FROM mqtt_session WHERE node > n.node) FROM n WHERE n.node IS NOT NULL) "
    "SELECT node FROM n WHERE node IS NOT NULL AND node <> ?1";

constexpr const char* sql_count_sessions = "SELECT count(*) FROM mqtt_session WHERE node = ?1";
constexpr const char* sql_count_subscriptions =
    "SELECT count(*) FROM mqtt_subscription WHERE node = ?1";
constexpr const char* sql_count_messages = "SELECT count(*) FROM mqtt_message WHERE node = ?1";
constexpr const char* sql_count_entries = "SELECT count(*) FROM mqtt_entry WHERE node = ?1";
// What the node's messages take: their topics and payloads (the rest is small beside them).
constexpr const char* sql_used_bytes =
    "SELECT coalesce(sum(octet_length(topic) + octet_length(payload)), 0)::bigint "
    "FROM mqtt_message WHERE node = ?1";
// The foreign keys keep the rows consistent; an entry whose message is missing would be a bug.
constexpr const char* sql_check =
    "SELECT count(*) FROM mqtt_entry e WHERE e.node = ?1 AND NOT EXISTS (SELECT 1 FROM "
    "mqtt_message m WHERE m.node = e.node AND m.id = e.message_id)";

std::int64_t i64(std::uint64_t v) noexcept {
  return static_cast<std::int64_t>(v);
}

struct applier {
  sql::connection& db;
  const std::string& node;

  template <typename Bind> std::error_code run(const char* text, Bind&& bind) {
    return sql::run(db, text, [&](sql::statement& s) {
      s.bind(1, node);
      bind(s);
    });
  }
  std::error_code operator()(const put_session& op) {
    return run(sql_put_session, [&](sql::statement& s) { s.bind(2, op.key).bind(3, op.created); });
  }
  std::error_code operator()(const delete_session& op) {
    return run(sql_delete_session, [&](sql::statement& s) { s.bind(2, op.key); });
  }
  std::error_code operator()(const put_subscription& op) {
    return run(sql_put_subscription, [&](sql::statement& s) {
      s.bind(2, op.session_key).bind(3, op.filter).bind(4, std::int64_t{op.qos});
    });
  }
  std::error_code operator()(const delete_subscription& op) {
    return run(sql_delete_subscription,
               [&](sql::statement& s) { s.bind(2, op.session_key).bind(3, op.filter); });
  }
  std::error_code operator()(const put_message& op) {
    return run(sql_put_message, [&](sql::statement& s) {
      s.bind(2, i64(op.id)).bind(3, op.topic).bind_blob(4, op.payload);
      s.bind(5, std::int64_t{op.qos}).bind(6, op.retain).bind(7, op.expires_at);
    });
  }
  std::error_code operator()(const put_entry& op) {
    return run(sql_put_entry, [&](sql::statement& s) {
      s.bind(2, op.session_key).bind(3, i64(op.seq)).bind(4, i64(op.message_id));
      s.bind(5, std::int64_t{op.qos}).bind(6, op.retain);
      s.bind(7, std::int64_t{static_cast<std::uint8_t>(op.state)});
      s.bind(8, std::int64_t{op.packet_id});
    });
  }
  std::error_code operator()(const set_entry_state& op) {
    return run(sql_set_entry_state, [&](sql::statement& s) {
      s.bind(2, op.session_key).bind(3, i64(op.seq));
      s.bind(4, std::int64_t{static_cast<std::uint8_t>(op.state)});
      s.bind(5, std::int64_t{op.packet_id});
    });
  }
  std::error_code operator()(const delete_entry& op) {
    return run(sql_delete_entry, [&](sql::statement& s) {
      s.bind(2, op.session_key).bind(3, i64(op.seq)).bind(4, i64(op.message_id));
    });
  }
  std::error_code operator()(const delete_expired& op) {
    if (auto ec = run(sql_expire_entries, [&](sql::statement& s) { s.bind(2, op.now); }))
      return ec;
    return run(sql_expire_messages, [&](sql::statement& s) { s.bind(2, op.now); });
  }
};

// Applies `ops` to `node`'s rows in one transaction, sent as one pipeline (one round trip).
// `before` runs first inside the transaction (may fail it).
template <typename Ops, typename Before>
std::error_code apply_all(pg::connection& db, const std::string& node, const Ops& ops,
                          Before&& before) {
  sql::transaction tx(db);
  if (tx.begin_error())
    return tx.begin_error();
  if (auto ec = before())
    return ec;
  db.defer();
  std::error_code ec;
  for (const auto& op : ops)
    if ((ec = std::visit(applier{db, node}, op)))
      break;
  if (auto flushed = db.flush(); !ec)
    ec = flushed;
  return ec ? ec : tx.commit();
}

// The one integer `text` answers for `node`.
result<std::int64_t> number(sql::connection& db, const char* text, const std::string& node) {
  return sql::returning(db, text, [&](sql::statement& s) { s.bind(1, node); });
}

std::error_code load_from(pg::connection& db, const std::string& node,
                          std::optional<std::string_view> key, session_sink& sink) {
  sql::transaction tx(db, sql::transaction::kind::read);
  if (tx.begin_error())
    return tx.begin_error();
  return sql::load_sessions(
      db, key ? load_key : load_node,
      [&](sql::statement& s) {
        s.bind(1, node);
        if (key)
          s.bind(2, *key);
      },
      sink);
}

} // namespace

pg_session_store::pg_session_store(const pg::options& opts, std::string node, pg_session_options o)
    : db_(std::make_unique<pg::connection>(opts)), node_(std::move(node)), opts_(o) {
  pg_migrate(*db_, opts);
  const auto until = std::chrono::steady_clock::now() + opts_.lock_wait;
  for (;;) {
    const auto ec = own_session();
    if (!ec)
      return;
    if (ec != make_error_code(errc::already_exists))
      throw open_error("PostgreSQL database " + pg::redact(opts.url) +
                       ": cannot lock the sessions of node " + node_ + " (" + db_->last_message() +
                       ")");
    if (std::chrono::steady_clock::now() >= until)
      throw open_error("the sessions of node " + node_ + " in PostgreSQL database " +
                       pg::redact(opts.url) +
                       " are locked by another process: a node of the same name is running, or "
                       "a survivor is taking them over (it ends within seconds)");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

pg_session_store::~pg_session_store() = default;

std::error_code pg_session_store::own_session() {
  auto got = number(*db_, sql_try_lock, node_);
  if (!got)
    return got.error();
  if (*got != 1)
    return make_error_code(errc::already_exists);
  if (auto ec = db_->exec(sql_keepalive))
    return ec;
  if (!opts_.sync)
    if (auto ec = db_->exec(sql_async))
      return ec;
  locked_at_ = db_->generation();
  return {};
}

std::error_code pg_session_store::apply(std::span<const session_op> ops) {
  std::lock_guard lock(mu_);
  return apply_all(*db_, node_, ops, [&]() -> std::error_code {
    // Reconnected: the lock went with the old connection. Taken again, or nothing is written
    // (a survivor took this node's sessions over meanwhile).
    if (db_->generation() == locked_at_)
      return {};
    auto ec = own_session();
    return ec == errc::already_exists ? make_error_code(errc::storage_failure) : ec;
  });
}

std::error_code pg_session_store::load_all(session_sink& sink) {
  std::lock_guard lock(mu_);
  return load_from(*db_, node_, std::nullopt, sink);
}

result<session_counts> pg_session_store::counts() {
  std::lock_guard lock(mu_);
  session_counts c;
  for (auto [text, out] :
       {std::pair{sql_count_sessions, &c.sessions},
        std::pair{sql_count_subscriptions, &c.subscriptions},
        std::pair{sql_count_messages, &c.messages}, std::pair{sql_count_entries, &c.entries}}) {
    auto n = number(*db_, text, node_);
    if (!n)
      return n.error();
    *out = static_cast<std::uint64_t>(*n);
  }
  return c;
}

result<std::vector<std::string>> pg_session_store::check() {
  std::lock_guard lock(mu_);
  auto n = number(*db_, sql_check, node_);
  if (!n)
    return n.error();
  std::vector<std::string> problems;
  if (*n != 0)
    problems.push_back(std::to_string(*n) + " entries of node " + node_ +
                       " point at a missing message");
  return problems;
}

result<std::uint64_t> pg_session_store::used_bytes() {
  std::lock_guard lock(mu_);
  // A sum over the node's messages: read again at most every size_every (the writer asks after
  // every commit).
  const auto now = std::chrono::steady_clock::now();
  if (sized_ && now - sized_at_ < opts_.size_every)
    return used_;
  auto n = number(*db_, sql_used_bytes, node_);
  if (!n)
    return n.error();
  used_ = static_cast<std::uint64_t>(*n);
  sized_ = true;
  sized_at_ = now;
  return used_;
}

pg_session_vault::pg_session_vault(const pg::options& opts, std::string self)
    : db_(std::make_unique<pg::connection>(opts)), self_(std::move(self)) {}

pg_session_vault::~pg_session_vault() = default;

result<std::optional<std::string>> pg_session_vault::holder(std::string_view key) {
  return sql::first_row<std::string>(
      *db_, sql_holder, [&](sql::statement& s) { s.bind(1, self_).bind(2, key); },
      [](const sql::statement& s) { return s.text(0); });
}

result<std::vector<std::string>> pg_session_vault::nodes() {
  return sql::rows<std::string>(
      *db_, sql_nodes, [&](sql::statement& s) { s.bind(1, self_); },
      [](const sql::statement& s) { return s.text(0); });
}

result<bool> pg_session_vault::hold(const std::string& node) {
  auto got = number(*db_, sql_try_lock, node);
  if (!got)
    return result<bool>(boost::system::in_place_error, got.error());
  held_at_ = db_->generation();
  return *got == 1;
}

void pg_session_vault::release(const std::string& node) {
  // A broken connection released it already.
  (void)number(*db_, sql_unlock, node);
}

std::error_code pg_session_vault::load(const std::string& node, std::optional<std::string_view> key,
                                       session_sink& sink) {
  return load_from(*db_, node, key, sink);
}

std::error_code pg_session_vault::erase(const std::string& node,
                                        std::span<const std::string> keys) {
  std::vector<session_op> ops;
  ops.reserve(keys.size());
  for (const auto& k : keys)
    ops.emplace_back(delete_session{k});
  return apply_all(*db_, node, ops, [&]() -> std::error_code {
    // The lock went with a broken connection: that node may be running again, with these rows.
    return db_->generation() == held_at_ ? std::error_code{}
                                         : make_error_code(errc::storage_failure);
  });
}

} // namespace thingport::store
