// What the SQL session stores share (session_sqlite.cpp, session_pg.cpp): reading the four kinds
// of rows in the order session_sink promises. Internal to store/.
#pragma once

#include <cstdint>
#include <system_error>

#include "store/session_store.hpp"
#include "store/sql_connection.hpp"

namespace thingport::store::sql {

// The four queries of a load, in order. Their columns: (key, created_ms); (session_key, filter,
// qos); (id, topic, payload, qos, retain, expires_ms); (session_key, seq, message_id, qos,
// retain, state, packet_id), the entries ordered by (session_key, seq).
struct session_queries {
  const char* sessions;
  const char* subscriptions;
  const char* messages;
  const char* entries;
};

inline entry_state entry_state_of(std::int64_t v) noexcept {
  return v == 1 ? entry_state::inflight : v == 2 ? entry_state::released : entry_state::queued;
}

// Runs the queries, each bound by bind(statement&), inside the caller's read transaction, and
// hands every row to `sink`.
template <typename Bind>
std::error_code load_sessions(connection& db, const session_queries& q, Bind&& bind,
                              session_sink& sink) {
  const auto small = [](std::int64_t v) { return static_cast<std::uint8_t>(v); };
  const auto each = [&](const char* text, auto&& row) {
    auto s = db.prepare(text);
    if (!s)
      return s.error();
    bind(*s);
    return for_each_row(*s, [&](statement& r) {
      row(r);
      return std::error_code{};
    });
  };
  if (auto ec = each(q.sessions, [&](statement& s) { sink.on_session({s.text(0), s.time(1)}); }))
    return ec;
  if (auto ec = each(q.subscriptions, [&](statement& s) {
        sink.on_subscription({s.text(0), s.text(1), small(s.int64(2))});
      }))
    return ec;
  if (auto ec = each(q.messages, [&](statement& s) {
        sink.on_message({static_cast<std::uint64_t>(s.int64(0)), s.text(1), s.blob(2),
                         small(s.int64(3)), s.boolean(4), s.time(5)});
      }))
    return ec;
  return each(q.entries, [&](statement& s) {
    sink.on_entry({s.text(0), static_cast<std::uint64_t>(s.int64(1)),
                   static_cast<std::uint64_t>(s.int64(2)), small(s.int64(3)), s.boolean(4),
                   entry_state_of(s.int64(5)), static_cast<std::uint16_t>(s.int64(6))});
  });
}

} // namespace thingport::store::sql
