// Small helpers shared by the files of sql_thing_store (thing_sql_store.cpp,
// thing_sql_store_device.cpp). Internal to store/; used under the store's mutex.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

#include "store/sql_connection.hpp"
#include "store/thing_sql_store.hpp"
#include "store/thing_validate.hpp"

namespace thingport::store::sql {

inline std::optional<timestamp> age_cutoff(timestamp now,
                                           std::chrono::milliseconds max_age) noexcept {
  if (max_age.count() <= 0) {
    return std::nullopt;
  }
  return now - max_age;
}

} // namespace thingport::store::sql

namespace thingport::store {

template <typename Body>
result<void> sql_thing_store::checked_write(std::string_view pk, std::string_view dn,
                                            std::error_code input, Body&& body) {
  if (auto ec = check_device(pk, dn)) {
    return ec;
  }
  if (input) {
    return input;
  }
  std::lock_guard lock(mu_);
  sql::transaction tx(*db_);
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
