// Persistent MQTT sessions (cleanSession=0) as the platform keeps them across restarts: the
// sessions, their subscriptions, the QoS 1/2 messages they have not acknowledged yet (each
// message stored once, however many sessions hold it) and, per session, the ordered entries
// that point at those messages. session_store is the plug-in point: SQLite embedded
// (session_sqlite.hpp), PostgreSQL for a cluster. Every backend passes the same contract suite
// (tests/store/session_store_contract.*).
//
// The broker never calls a backend from a worker: it hands batches of operations to the
// session_writer (session_writer.hpp), whose one thread applies each batch in one transaction.
//
// Errors: nothing here throws but a backend's constructor (store::open_error: unopenable, not
// ours, damaged, schema too new) and whatever a session_sink throws.
//
// Threads: a backend serialises its own calls; apply() and load_all() may be called from any
// thread, one at a time or concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

#include "store/result.hpp"

namespace thingport::store {

// Where a session's message entry stands.
enum class entry_state : std::uint8_t {
  queued = 0,   // waiting for the client (offline, or its in-flight window is full)
  inflight = 1, // PUBLISH sent with packet_id; resent with DUP on reconnect
  released = 2, // QoS 2: PUBREC received, PUBREL sent with packet_id, waiting for PUBCOMP
};

// ---- rows, as load_all() streams them ----

struct stored_session {
  std::string key; // a device: "d|pk/dn"; a generic client: its client id
  timestamp created{};
};

struct stored_subscription {
  std::string session_key;
  std::string filter;
  std::uint8_t qos = 0;
};

struct stored_message {
  std::uint64_t id = 0; // the broker's message id, unique per node
  std::string topic;
  std::string payload;
  std::uint8_t qos = 1;
  bool retain = false;
  timestamp expires_at{}; // the epoch: never
};

struct stored_entry {
  std::string session_key;
  std::uint64_t seq = 0; // order within the session, increasing
  std::uint64_t message_id = 0;
  std::uint8_t qos = 1; // the QoS it is delivered at
  bool retain = false;  // delivered as a retained message
  entry_state state = entry_state::queued;
  std::uint16_t packet_id = 0; // inflight and released only
};

// ---- operations, as apply() takes them ----
// Views in an operation point into memory that `hold` (or the caller) keeps alive until apply()
// returns, so a payload shared by many sessions is never copied on its way to the database.

struct put_session {
  std::string key;
  timestamp created{};
};
// Removes the session, its subscriptions, its entries, and the messages no entry points at any
// more. Removing a missing session is not an error.
struct delete_session {
  std::string key;
};
// Adds the filter or replaces its QoS.
struct put_subscription {
  std::string session_key;
  std::string filter;
  std::uint8_t qos = 0;
};
struct delete_subscription {
  std::string session_key;
  std::string filter;
};
// Stores the message unless a message with its id is stored already.
struct put_message {
  std::uint64_t id = 0;
  std::string_view topic;
  std::string_view payload;
  std::uint8_t qos = 1;
  bool retain = false;
  timestamp expires_at{};
  std::shared_ptr<const void> hold; // keeps topic and payload alive
};
// Adds or replaces the entry (session_key, seq). Its message must be stored (in this batch or
// before), its session too.
struct put_entry {
  std::string session_key;
  std::uint64_t seq = 0;
  std::uint64_t message_id = 0;
  std::uint8_t qos = 1;
  bool retain = false;
  entry_state state = entry_state::queued;
  std::uint16_t packet_id = 0;
  // The caller promises (session_key, seq) is not stored yet (a new seq of the session): when
  // the same batch deletes it again, the writer applies neither (session_coalesce.hpp).
  bool fresh = false;
};
// Moves an existing entry to another state (queued -> inflight -> released).
struct set_entry_state {
  std::string session_key;
  std::uint64_t seq = 0;
  entry_state state = entry_state::inflight;
  std::uint16_t packet_id = 0;
};
// Removes the entry, and its message when no other entry points at it.
struct delete_entry {
  std::string session_key;
  std::uint64_t seq = 0;
  std::uint64_t message_id = 0;
};
// Removes every message that expired at or before `now`, with the entries pointing at it.
struct delete_expired {
  timestamp now{};
};

using session_op =
    std::variant<put_session, delete_session, put_subscription, delete_subscription, put_message,
                 put_entry, set_entry_state, delete_entry, delete_expired>;

// Receives what load_all() reads, in this order: every session, every subscription, every
// message that an entry points at, then every entry ordered by (session_key, seq). A sink may
// throw to abort; the exception leaves load_all().
class session_sink {
public:
  virtual ~session_sink() = default;
  virtual void on_session(const stored_session& s) = 0;
  virtual void on_subscription(const stored_subscription& s) = 0;
  virtual void on_message(const stored_message& m) = 0;
  virtual void on_entry(const stored_entry& e) = 0;
};

// What a store holds (the contract suite observes a backend through it). `thingport store
// check` does not go through this interface: it opens the files read-only (app/store_check).
struct session_counts {
  std::uint64_t sessions = 0;
  std::uint64_t subscriptions = 0;
  std::uint64_t messages = 0;
  std::uint64_t entries = 0;
};

class session_store {
public:
  virtual ~session_store() = default;

  // Applies `ops` in order, all or nothing (one transaction). On error nothing was written.
  virtual std::error_code apply(std::span<const session_op> ops) = 0;
  // Streams everything stored (see session_sink), from one consistent snapshot.
  virtual std::error_code load_all(session_sink& sink) = 0;
  virtual result<session_counts> counts() = 0;
  // Checks the storage itself (SQLite: PRAGMA integrity_check). Empty: fine; else the problems.
  virtual result<std::vector<std::string>> check() = 0;
  // Bytes the stored data takes (SQLite: the database pages in use), for the disk budget. Grows
  // as messages are stored and shrinks, give or take, as they are deleted.
  virtual result<std::uint64_t> used_bytes() = 0;
};

// Copies everything `from` holds into `to`, in one transaction of `to` (all or nothing): a
// node's sessions.db into the PostgreSQL session store when it joins a cluster. What was copied.
result<session_counts> copy_sessions(session_store& from, session_store& to);

} // namespace thingport::store
