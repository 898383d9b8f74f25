#include "store/thing_sql_store.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "store/sql_connection.hpp"
#include "store/thing_sql.hpp"
#include "store/thing_sql_rows.hpp"
#include "store/thing_validate.hpp"
#include "store/validate.hpp"

namespace thingport::store {

using sql::statement;
using namespace sql; // the helpers of sql_connection.hpp and thing_sql_rows.hpp
namespace tq = thing_sql;

namespace {

// The checks of a history or event query; an empty identifier is "all" where `any_allowed`.
std::error_code check_time_read(std::string_view pk, std::string_view dn,
                                std::string_view identifier, bool any_allowed,
                                const time_query& q) {
  if (auto ec = check_device(pk, dn)) {
    return ec;
  }
  if (!(any_allowed && identifier.empty())) {
    if (auto ec = check_thing_identifier(identifier)) {
      return ec;
    }
  }
  return check_time_query(q);
}

// The rows of a history or event query: ?1 pk, ?2 dn, ?3 identifier, ?4..?5 the time range,
// ?6 the limit.
template <typename T, typename Read>
result<std::vector<T>> time_rows(sql::connection& db, const char* text, std::string_view pk,
                                 std::string_view dn, std::string_view identifier,
                                 const time_query& q, Read&& read) {
  return rows<T>(
      db, text,
      [&](statement& s) {
        s.bind(1, pk).bind(2, dn).bind(3, identifier).bind(4, q.from).bind(5, q.to);
        s.bind(6, sql::to_sql(q.limit));
      },
      read);
}

property_value read_property(const statement& s) {
  return {.identifier = s.text(0), .value = s.text(1), .time = s.time(2)};
}

event_record read_event(const statement& s) {
  return {.identifier = s.text(0), .type = s.text(1), .output = s.text(2), .time = s.time(3)};
}

// A kind of series: its thing_series.kind and the statements of its retention
// (?1 pk, ?2 dn, ?3 identifier, ?4 the values kept / the oldest time kept).
struct series_kind {
  const char* kind;
  const char* by_count;
  const char* by_age;
};
constexpr series_kind property_series{"p", tq::trim_history_count, tq::trim_history_age};
constexpr series_kind event_series{"e", tq::trim_events_count, tq::trim_events_age};

// The retention of one kind of series.
struct series_trim {
  series_kind kind;
  std::size_t max_count = 0;         // 0: no count limit
  std::optional<timestamp> cutoff{}; // nullopt: no age limit
};

// Appends items (property values, events) to their series: each bumps its identifier's
// sequence number and is written by `insert(item)`, which reads it back; then the count and age
// retention of each identifier written. Nothing here waits for an answer: on a backend that
// defers (PostgreSQL's pipeline) the errors come at the caller's flush().
template <typename T, typename Insert>
std::error_code put_series(sql::connection& db, std::string_view pk, std::string_view dn,
                           std::span<const T> items, const series_trim& t, Insert&& insert) {
  std::vector<std::string_view> written; // identifiers
  written.reserve(items.size());
  for (const T& item : items) {
    if (auto ec = run(db, tq::bump_seq, [&](statement& s) {
          s.bind(1, pk).bind(2, dn).bind(3, t.kind.kind).bind(4, item.identifier);
        })) {
      return ec; // an unknown device: the foreign key says not_found
    }
    if (auto ec = insert(item)) {
      return ec;
    }
    written.push_back(item.identifier);
  }
  std::sort(written.begin(), written.end()); // once each, in n log n (a post may hold 10,000)
  written.erase(std::unique(written.begin(), written.end()), written.end());
  for (std::string_view identifier : written) {
    if (t.max_count > 0) {
      if (auto ec = run(db, t.kind.by_count, [&](statement& s) {
            s.bind(1, pk).bind(2, dn).bind(3, identifier).bind(4, sql::to_sql(t.max_count));
          })) {
        return ec;
      }
    }
    if (t.cutoff) {
      if (auto ec = run(db, t.kind.by_age, [&](statement& s) {
            s.bind(1, pk).bind(2, dn).bind(3, identifier).bind(4, *t.cutoff);
          })) {
        return ec;
      }
    }
  }
  return {};
}

} // namespace

sql_thing_store::sql_thing_store(std::unique_ptr<sql::connection> db, retention keep)
    : keep_(keep), db_(std::move(db)) {}

sql_thing_store::~sql_thing_store() = default;

// ---- properties -----------------------------------------------------------------------------

namespace {

// retention::max_properties: would these values give the device more identifiers than `max`?
// One count, and the identifiers looked up one by one only near the bound; `n` gets the count.
std::error_code check_property_budget(sql::connection& db, std::string_view pk, std::string_view dn,
                                      std::span<const property_value> values, std::size_t max,
                                      std::size_t& n) {
  auto have = rows<std::int64_t>(
      db, "SELECT count(*) FROM thing_property WHERE product_key = ? AND device_name = ?",
      [&](statement& s) { s.bind(1, pk).bind(2, dn); },
      [](const statement& s) { return s.int64(0); });
  if (!have)
    return have.error();
  n = have->empty() ? 0 : static_cast<std::size_t>(have->front());
  if (n + values.size() <= max)
    return {};                         // even if every identifier were new
  std::vector<std::string_view> fresh; // identifiers the device does not have yet, once each
  for (const auto& v : values) {
    if (std::find(fresh.begin(), fresh.end(), v.identifier) != fresh.end())
      continue;
    auto known = rows<int>(
        db,
        "SELECT 1 FROM thing_property WHERE product_key = ? AND device_name = ? AND "
        "identifier = ?",
        [&](statement& s) { s.bind(1, pk).bind(2, dn).bind(3, v.identifier); },
        [](const statement&) { return 1; });
    if (!known)
      return known.error();
    if (known->empty())
      fresh.push_back(v.identifier);
  }
  return n + fresh.size() > max ? make_error_code(thing_errc::too_many_properties)
                                : std::error_code{};
}

} // namespace

std::error_code sql_thing_store::check_budget(std::string_view pk, std::string_view dn,
                                              std::span<const property_value> values) {
  const std::size_t max = keep_.max_properties;
  if (max == 0)
    return {};
  std::string& key = bound_key_; // reused: no allocation per post once it is large enough
  key.assign(pk).append(1, '/').append(dn);
  auto it = identifier_bounds_.find(key);
  if (it != identifier_bounds_.end() && it->second + values.size() <= max) {
    it->second += values.size(); // still an upper bound, whether or not the write commits
    return {};
  }
  std::size_t n = 0;
  if (auto ec = check_property_budget(*db_, pk, dn, values, max, n))
    return ec;
  if (identifier_bounds_.size() >= max_identifier_bounds)
    identifier_bounds_.clear(); // bounded: forgotten devices are counted again
  identifier_bounds_[key] = n + values.size();
  return {};
}

std::error_code sql_thing_store::put_properties(std::string_view pk, std::string_view dn,
                                                std::span<const property_value> values,
                                                timestamp now) {
  if (auto ec = check_budget(pk, dn, values))
    return ec;
  db_->defer();
  auto ec = queue_properties(pk, dn, values, now);
  auto flushed = db_->flush();
  return ec ? ec : flushed;
}

std::error_code sql_thing_store::queue_properties(std::string_view pk, std::string_view dn,
                                                  std::span<const property_value> values,
                                                  timestamp now) {
  const series_trim t{property_series, keep_.max_values, age_cutoff(now, keep_.max_age)};
  return put_series(*db_, pk, dn, values, t, [&](const property_value& v) -> std::error_code {
    if (auto ec = run(*db_, tq::insert_history, [&](statement& s) {
          s.bind(1, pk).bind(2, dn).bind(3, v.identifier).bind(4, v.time).bind(5, v.value);
        })) {
      return ec;
    }
    return run(*db_, tq::upsert_latest, [&](statement& s) {
      s.bind(1, pk).bind(2, dn).bind(3, v.identifier).bind(4, v.value).bind(5, v.time);
    });
  });
}

result<void> sql_thing_store::append_properties(std::string_view product_key,
                                                std::string_view device_name,
                                                std::span<const property_value> values,
                                                timestamp now) {
  return checked_write(product_key, device_name, check_property_values(values),
                       [&] { return put_properties(product_key, device_name, values, now); });
}

result<std::vector<property_value>>
sql_thing_store::latest_properties(std::string_view product_key,
                                   std::string_view device_name) const {
  if (auto ec = check_device(product_key, device_name)) {
    return ec;
  }
  std::lock_guard lock(mu_);
  return rows<property_value>(
      *db_, tq::latest, [&](statement& s) { s.bind(1, product_key).bind(2, device_name); },
      read_property);
}

result<std::vector<property_value>> sql_thing_store::property_history(std::string_view product_key,
                                                                      std::string_view device_name,
                                                                      std::string_view identifier,
                                                                      const time_query& q) const {
  if (auto ec = check_time_read(product_key, device_name, identifier, false, q)) {
    return ec;
  }
  std::lock_guard lock(mu_);
  return time_rows<property_value>(*db_, q.ascending ? tq::history_asc : tq::history_desc,
                                   product_key, device_name, identifier, q, read_property);
}

// ---- events ---------------------------------------------------------------------------------

std::error_code sql_thing_store::put_events(std::string_view pk, std::string_view dn,
                                            std::span<const event_record> events, timestamp now) {
  db_->defer();
  auto ec = queue_events(pk, dn, events, now);
  auto flushed = db_->flush();
  return ec ? ec : flushed;
}

std::error_code sql_thing_store::queue_events(std::string_view pk, std::string_view dn,
                                              std::span<const event_record> events, timestamp now) {
  const series_trim t{event_series, keep_.max_events, age_cutoff(now, keep_.max_age)};
  return put_series(*db_, pk, dn, events, t, [&](const event_record& e) {
    return run(*db_, tq::insert_event, [&](statement& s) {
      s.bind(1, pk).bind(2, dn).bind(3, e.identifier).bind(4, e.time).bind(5, e.type);
      s.bind(6, e.output);
    });
  });
}

result<void> sql_thing_store::append_events(std::string_view product_key,
                                            std::string_view device_name,
                                            std::span<const event_record> events, timestamp now) {
  return checked_write(product_key, device_name, check_event_records(events),
                       [&] { return put_events(product_key, device_name, events, now); });
}

result<std::vector<event_record>> sql_thing_store::events(std::string_view product_key,
                                                          std::string_view device_name,
                                                          std::string_view identifier,
                                                          const time_query& q) const {
  if (auto ec = check_time_read(product_key, device_name, identifier, true, q)) {
    return ec;
  }
  const char* text = identifier.empty() ? (q.ascending ? tq::events_all_asc : tq::events_all_desc)
                                        : (q.ascending ? tq::events_one_asc : tq::events_one_desc);
  std::lock_guard lock(mu_);
  return time_rows<event_record>(*db_, text, product_key, device_name, identifier, q, read_event);
}

result<std::vector<std::error_code>> sql_thing_store::write(std::span<const thing_write> writes,
                                                            timestamp now) {
  if (auto ec = check_batch_size(writes.size())) {
    return ec;
  }
  // Bad input fails its own write only, before the database is touched.
  std::vector<std::error_code> out(writes.size());
  for (std::size_t i = 0; i < writes.size(); ++i) {
    out[i] = std::visit(
        [](const auto& w) -> std::error_code {
          if (auto ec = check_device(w.device.product_key, w.device.device_name)) {
            return ec;
          }
          if constexpr (std::is_same_v<std::decay_t<decltype(w)>, property_write>) {
            return check_property_values(w.values);
          } else {
            return check_event_records(w.events);
          }
        },
        writes[i]);
  }
  std::lock_guard lock(mu_);
  sql::transaction tx(*db_);
  if (auto ec = tx.begin_error()) {
    return ec;
  }
  // The budgets first (reads, mostly answered from memory), then every write in one deferred
  // run: on PostgreSQL the whole group is one round trip unless a write fails. Then, one
  // savepoint per write: a failed write is rolled back to its own, and the ones after it, which
  // its failure kept from running, go again.
  for (std::size_t i = 0; i < writes.size(); ++i) {
    const auto* p = std::get_if<property_write>(&writes[i]);
    if (out[i] || p == nullptr) {
      continue;
    }
    out[i] = check_budget(p->device.product_key, p->device.device_name, p->values);
    if (out[i] && out[i] != make_error_code(thing_errc::too_many_properties)) {
      return out[i]; // the database failed, not the write
    }
  }
  const auto queue = [&](std::size_t i) {
    return std::visit(
        [&](const auto& w) -> std::error_code {
          if constexpr (std::is_same_v<std::decay_t<decltype(w)>, property_write>) {
            return queue_properties(w.device.product_key, w.device.device_name, w.values, now);
          } else {
            return queue_events(w.device.product_key, w.device.device_name, w.events, now);
          }
        },
        writes[i]);
  };
  // Most groups fail nowhere: first all of it under one savepoint, the cheapest way.
  {
    db_->defer();
    std::error_code ec = db_->exec("SAVEPOINT thing_group");
    for (std::size_t i = 0; i < writes.size() && !ec; ++i) {
      if (!out[i]) {
        ec = queue(i);
      }
    }
    if (!ec) {
      ec = db_->exec("RELEASE thing_group");
    }
    const auto flushed = db_->flush();
    if (!ec && !flushed) {
      if (auto c = tx.commit()) {
        return c;
      }
      return out;
    }
    if (db_->exec("ROLLBACK TO thing_group") || db_->exec("RELEASE thing_group")) {
      return make_error_code(errc::storage_failure);
    }
  }
  // Something failed: again, one savepoint per write, to tell which.
  const auto undo = [&] {
    return db_->exec("ROLLBACK TO thing_write") || db_->exec("RELEASE thing_write");
  };
  std::size_t i = 0;
  while (i < writes.size()) {
    std::vector<std::pair<std::size_t, std::size_t>> sent; // write, statements sent through it
    std::optional<std::size_t> failed;                     // a write whose error came at once
    std::error_code failed_ec;
    db_->defer();
    for (; i < writes.size(); ++i) {
      if (out[i]) {
        continue;
      }
      std::error_code ec = db_->exec("SAVEPOINT thing_write");
      if (!ec) {
        ec = queue(i);
      }
      if (!ec) {
        ec = db_->exec("RELEASE thing_write");
      }
      if (ec) {
        failed = i;
        failed_ec = ec;
        break;
      }
      sent.emplace_back(i, db_->deferred());
    }
    std::size_t answered = 0;
    if (const auto ec = db_->flush(&answered)) {
      const auto k = std::find_if(sent.begin(), sent.end(),
                                  [&](const auto& w) { return w.second > answered; });
      if (k == sent.end()) {
        return ec; // not a write's own failure
      }
      out[k->first] = ec;
      if (undo()) {
        return make_error_code(errc::storage_failure);
      }
      i = k->first + 1;
      continue;
    }
    if (failed) {
      out[*failed] = failed_ec;
      if (undo()) {
        return make_error_code(errc::storage_failure);
      }
      i = *failed + 1;
    }
  }
  if (auto ec = tx.commit()) {
    return ec;
  }
  return out;
}

// ---- shadow ---------------------------------------------------------------------------------

result<std::optional<shadow_document>>
sql_thing_store::get_shadow(std::string_view product_key, std::string_view device_name) const {
  if (auto ec = check_device(product_key, device_name)) {
    return ec;
  }
  std::lock_guard lock(mu_);
  return first_row<shadow_document>(
      *db_, tq::get_shadow, [&](statement& s) { s.bind(1, product_key).bind(2, device_name); },
      [](const statement& s) {
        return shadow_document{.document = s.text(0), .version = s.int64(1), .updated = s.time(2)};
      });
}

result<void> sql_thing_store::put_shadow(std::string_view product_key, std::string_view device_name,
                                         const shadow_document& doc,
                                         std::int64_t expected_version) {
  if (auto ec = check_device(product_key, device_name)) {
    return ec;
  }
  if (auto ec = check_thing_value(doc.document)) {
    return ec;
  }
  if (doc.version <= expected_version) {
    return make_error_code(thing_errc::version_conflict);
  }
  std::lock_guard lock(mu_);
  const char* text = expected_version == 0 ? tq::insert_shadow : tq::update_shadow;
  if (auto ec = run(*db_, text, [&](statement& s) {
        s.bind(1, product_key).bind(2, device_name).bind(3, doc.document).bind(4, doc.version);
        s.bind(5, doc.updated);
        if (expected_version != 0) {
          s.bind(6, expected_version);
        }
      })) {
    return ec;
  }
  if (db_->changes() == 0) {
    return make_error_code(thing_errc::version_conflict);
  }
  return {};
}

// ---- housekeeping ---------------------------------------------------------------------------

result<std::uint64_t> sql_thing_store::prune(timestamp now) {
  std::lock_guard lock(mu_);
  struct series {
    std::string pk, dn, kind, identifier;
  };
  auto all = rows<series>(
      *db_, tq::all_series, [](statement&) {},
      [](const statement& s) {
        return series{s.text(0), s.text(1), s.text(2), s.text(3)};
      });
  if (!all) {
    return all.error();
  }
  std::uint64_t removed = 0;
  // Each series in its own short transaction: a long sweep must not hold the write lock.
  if (const auto cutoff = age_cutoff(now, keep_.max_age)) {
    for (const series& s : *all) {
      const char* text = s.kind == "p" ? tq::trim_history_age : tq::trim_events_age;
      if (auto ec = run(*db_, text, [&](statement& st) {
            st.bind(1, s.pk).bind(2, s.dn).bind(3, s.identifier).bind(4, *cutoff);
          })) {
        return ec;
      }
      removed += static_cast<std::uint64_t>(db_->changes());
    }
  }
  if (const auto cutoff = age_cutoff(now, keep_.max_downlink_age)) {
    if (auto ec = run(*db_, tq::prune_downlinks, [&](statement& st) { st.bind(1, *cutoff); })) {
      return ec;
    }
    removed += static_cast<std::uint64_t>(db_->changes());
  }
  return removed;
}

result<void> sql_thing_store::delete_device_data(std::string_view product_key,
                                                 std::string_view device_name) {
  return checked_write(product_key, device_name, {}, [&]() -> std::error_code {
    identifier_bounds_.erase(std::string(product_key) + "/" + std::string(device_name));
    for (const char* text : tq::delete_device) {
      if (auto ec =
              run(*db_, text, [&](statement& s) { s.bind(1, product_key).bind(2, device_name); })) {
        return ec;
      }
    }
    return {};
  });
}

} // namespace thingport::store
