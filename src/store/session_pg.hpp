// Persistent sessions in PostgreSQL, for a cluster (docs/cluster.md "When a node never comes
// back"): every node keeps its sessions in the same tables, each row marked with the node that
// holds it, so that when a node dies and does not return, a survivor can take its sessions over.
//
// pg_session_store is one node's share, as its session_store. It holds a PostgreSQL advisory
// lock on its node's rows for as long as its connection lives: while it does, nobody else takes
// them; when the node's process dies, PostgreSQL drops the connection and with it the lock. A
// node that starts waits for the lock (a survivor may be taking its sessions over right then),
// and a second process started with the same node name is refused.
//
// pg_session_vault is how a survivor reaches the other nodes' shares: which node has a session
// of a key, the lock of a node's rows (free only when that node is not running), its sessions
// read and, once the survivor holds them itself, deleted.
//
// Schema: the tables mqtt_session, mqtt_subscription, mqtt_message, mqtt_entry of the store's
// schema (pg_store.hpp, version 6; docs/store-format.md).
//
// Threads: pg_session_store serialises its own calls (one mutex), as session_store requires.
// pg_session_vault is not synchronised: one thread uses it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/pg_connection.hpp"
#include "store/session_store.hpp"

namespace thingport::store {

struct pg_session_options {
  // true ("sync"): a commit is on the server's disk before it returns. false ("async"):
  // synchronous_commit = off, a commit may be lost if the server crashes.
  bool sync = true;
  // How long a node that starts waits for its rows' lock before it gives up (open_error).
  std::chrono::milliseconds lock_wait{30000};
  // used_bytes() sums the node's messages at most this often, and answers the last sum between.
  std::chrono::milliseconds size_every{1000};
};

class pg_session_store final : public session_store {
public:
  // Connects, migrates (as pg_migrate does) and takes the lock of `node`'s rows; throws
  // open_error when it cannot, naming the reason.
  pg_session_store(const pg::options& opts, std::string node, pg_session_options o = {});
  ~pg_session_store() override;

  std::error_code apply(std::span<const session_op> ops) override;
  std::error_code load_all(session_sink& sink) override;
  result<session_counts> counts() override;
  result<std::vector<std::string>> check() override;
  // The session tables' size on the server (every node's rows: they share the tables).
  result<std::uint64_t> used_bytes() override;

private:
  // After a reconnect, the lock and settings again. Under mu_.
  std::error_code own_session();

  std::mutex mu_;
  std::unique_ptr<pg::connection> db_;
  std::string node_;
  pg_session_options opts_;
  std::uint64_t locked_at_ = 0; // the connection's generation when the lock was taken
  bool sized_ = false;
  std::chrono::steady_clock::time_point sized_at_{};
  std::uint64_t used_ = 0;
};

class pg_session_vault {
public:
  // Connects (the schema is migrated by the node's pg_session_store); throws open_error.
  pg_session_vault(const pg::options& opts, std::string self);
  ~pg_session_vault();

  // The node other than this one that has a session of `key` stored, if any.
  result<std::optional<std::string>> holder(std::string_view key);
  // The nodes other than this one that have sessions stored.
  result<std::vector<std::string>> nodes();
  // Takes the lock of `node`'s rows: false when that node is running (or another survivor is
  // taking them over). Held until release() or until this connection breaks.
  result<bool> hold(const std::string& node);
  void release(const std::string& node);
  // Streams `node`'s sessions (every one, or the one of `key`) to `sink`, from one snapshot.
  std::error_code load(const std::string& node, std::optional<std::string_view> key,
                       session_sink& sink);
  // Deletes `node`'s sessions of `keys` and what only they pointed at, in one transaction; fails
  // (deleting nothing) when the lock taken by hold() was lost meanwhile.
  std::error_code erase(const std::string& node, std::span<const std::string> keys);

private:
  std::unique_ptr<pg::connection> db_;
  std::string self_;
  std::uint64_t held_at_ = 0; // the connection's generation at the last hold()
};

} // namespace thingport::store
