#include "store/thing_sql_store.hpp"

#include <algorithm>
#include <map>
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

result<std::int64_t> next_seq(sql::connection& db, std::string_view pk, std::string_view dn,
                              std::string_view kind, std::string_view identifier) {
  return returning(db, tq::next_seq, [&](statement& s) {
    s.bind(1, pk).bind(2, dn).bind(3, kind).bind(4, identifier);
  });
}

// A kind of series: its thing_series.kind and the statements of its retention
// (?1 pk, ?2 dn, ?3 identifier, ?4 the lowest seq / the oldest time kept).
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

// Count and age retention of the series written: `last` holds each identifier's last seq.
std::error_code trim(sql::connection& db, std::string_view pk, std::string_view dn,
                     const std::map<std::string, std::int64_t, std::less<>>& last,
                     const series_trim& t) {
  for (const auto& [identifier, seq] : last) {
    const std::int64_t keep_from = seq + 1 - sql::to_sql(t.max_count);
    if (t.max_count > 0 && keep_from > 1) {
      if (auto ec = run(db, t.kind.by_count, [&](statement& s) {
            s.bind(1, pk).bind(2, dn).bind(3, identifier).bind(4, keep_from);
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

// Appends items (property values, events) to their series: each gets the next sequence number
// of its identifier and is written by `insert(item, seq)`; then the retention.
template <typename T, typename Insert>
std::error_code put_series(sql::connection& db, std::string_view pk, std::string_view dn,
                           std::span<const T> items, const series_trim& t, Insert&& insert) {
  std::map<std::string, std::int64_t, std::less<>> last;
  for (const T& item : items) {
    auto seq = next_seq(db, pk, dn, t.kind.kind, item.identifier);
    if (!seq) {
      return seq.error(); // an unknown device: the foreign key says not_found
    }
    last[item.identifier] = *seq;
    if (auto ec = insert(item, *seq)) {
      return ec;
    }
  }
  return trim(db, pk, dn, last, t);
}

} // namespace

sql_thing_store::sql_thing_store(std::unique_ptr<sql::connection> db, retention keep)
    : keep_(keep), db_(std::move(db)) {}

sql_thing_store::~sql_thing_store() = default;

// ---- properties -----------------------------------------------------------------------------

namespace {

// retention::max_properties: would these values give the device more identifiers than `max`?
// One count per post; the identifiers are looked up one by one only near the bound.
std::error_code check_property_budget(sql::connection& db, std::string_view pk, std::string_view dn,
                                      std::span<const property_value> values, std::size_t max) {
  if (max == 0)
    return {};
  auto have = rows<std::int64_t>(
      db, "SELECT count(*) FROM thing_property WHERE product_key = ? AND device_name = ?",
      [&](statement& s) { s.bind(1, pk).bind(2, dn); },
      [](const statement& s) { return s.int64(0); });
  if (!have)
    return have.error();
  const auto n = have->empty() ? 0 : static_cast<std::size_t>(have->front());
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

std::error_code sql_thing_store::put_properties(std::string_view pk, std::string_view dn,
                                                std::span<const property_value> values,
                                                timestamp now) {
  if (auto ec = check_property_budget(*db_, pk, dn, values, keep_.max_properties))
    return ec;
  const series_trim t{property_series, keep_.max_values, age_cutoff(now, keep_.max_age)};
  return put_series(*db_, pk, dn, values, t,
                    [&](const property_value& v, std::int64_t seq) -> std::error_code {
                      if (auto ec = run(*db_, tq::insert_history, [&](statement& s) {
                            s.bind(1, pk).bind(2, dn).bind(3, v.identifier).bind(4, seq);
                            s.bind(5, v.time).bind(6, v.value);
                          })) {
                        return ec;
                      }
                      return run(*db_, tq::upsert_latest, [&](statement& s) {
                        s.bind(1, pk).bind(2, dn).bind(3, v.identifier).bind(4, v.value);
                        s.bind(5, v.time);
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
  const series_trim t{event_series, keep_.max_events, age_cutoff(now, keep_.max_age)};
  return put_series(*db_, pk, dn, events, t, [&](const event_record& e, std::int64_t seq) {
    return run(*db_, tq::insert_event, [&](statement& s) {
      s.bind(1, pk).bind(2, dn).bind(3, e.identifier).bind(4, seq).bind(5, e.time);
      s.bind(6, e.type).bind(7, e.output);
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
  for (std::size_t i = 0; i < writes.size(); ++i) {
    if (out[i]) {
      continue;
    }
    if (auto ec = db_->exec("SAVEPOINT thing_write")) {
      return ec;
    }
    out[i] = std::visit(
        [&](const auto& w) -> std::error_code {
          if constexpr (std::is_same_v<std::decay_t<decltype(w)>, property_write>) {
            return put_properties(w.device.product_key, w.device.device_name, w.values, now);
          } else {
            return put_events(w.device.product_key, w.device.device_name, w.events, now);
          }
        },
        writes[i]);
    if (out[i] && db_->exec("ROLLBACK TO thing_write")) {
      return make_error_code(errc::storage_failure);
    }
    if (auto ec = db_->exec("RELEASE thing_write")) {
      return ec;
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
