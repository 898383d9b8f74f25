// Small helpers over sqlite::statement shared by the files of sqlite_thing_store
// (thing_sqlite.cpp, thing_sqlite_device.cpp). Internal to store/; used under the store's mutex.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

#include "store/sqlite_connection.hpp"
#include "store/sqlite_identity_rows.hpp" // for_each_row
#include "store/thing_sqlite.hpp"
#include "store/thing_validate.hpp"

namespace thingport::store::sqlite {

inline std::optional<timestamp> age_cutoff(timestamp now,
                                           std::chrono::milliseconds max_age) noexcept {
  if (max_age.count() <= 0) {
    return std::nullopt;
  }
  return now - max_age;
}

// Runs a statement without rows after `bind`.
template <typename Bind>
std::error_code run(sqlite::connection& db, const char* text, Bind&& bind) {
  auto s = db.prepare(text);
  if (!s) {
    return s.error();
  }
  bind(*s);
  return s->run();
}

// The rows of a query, each read by `read`.
template <typename T, typename Bind, typename Read>
result<std::vector<T>> rows(sqlite::connection& db, const char* text, Bind&& bind, Read&& read) {
  auto s = db.prepare(text);
  if (!s) {
    return s.error();
  }
  bind(*s);
  std::vector<T> out;
  if (auto ec = sqlite::for_each_row(*s, [&](const statement& row) {
        out.push_back(read(row));
        return std::error_code{};
      })) {
    return ec;
  }
  return out;
}

// The first row of a query read by `read`, or nullopt when there is none.
template <typename T, typename Bind, typename Read>
result<std::optional<T>> first_row(sqlite::connection& db, const char* text, Bind&& bind,
                                   Read&& read) {
  // In place: an error_code would also convert to the optional when T is a result.
  using out = result<std::optional<T>>;
  auto s = db.prepare(text);
  if (!s) {
    return out(boost::system::in_place_error, s.error());
  }
  bind(*s);
  const int rc = s->step();
  if (rc == SQLITE_DONE) {
    return out(boost::system::in_place_value, std::nullopt);
  }
  if (rc != SQLITE_ROW) {
    return out(boost::system::in_place_error, sqlite::to_error(rc));
  }
  return out(boost::system::in_place_value, read(*s));
}

// A statement that must return one row (INSERT ... RETURNING): its first column.
template <typename Bind>
result<std::int64_t> returning(sqlite::connection& db, const char* text, Bind&& bind) {
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
std::error_code run_each(sqlite::connection& db, std::span<const T> items, const char* text,
                         Bind&& bind) {
  for (const T& item : items) {
    if (auto ec = run(db, text, [&](statement& s) { bind(s, item); })) {
      return ec;
    }
  }
  return {};
}

} // namespace thingport::store::sqlite

namespace thingport::store {

template <typename Body>
result<void> sqlite_thing_store::checked_write(std::string_view pk, std::string_view dn,
                                               std::error_code input, Body&& body) {
  if (auto ec = check_device(pk, dn)) {
    return ec;
  }
  if (input) {
    return input;
  }
  std::lock_guard lock(mu_);
  sqlite::transaction tx(*db_);
  if (auto ec = tx.begin_error()) {
    return ec;
  }
  if (std::error_code ec = body()) {
    return ec; // the transaction rolls back
  }
  if (auto ec = tx.commit()) {
    return ec;
  }
  return {};
}

} // namespace thingport::store
