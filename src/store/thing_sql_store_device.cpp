// sql_thing_store, part 2: device info tags, desired values and downlink records. Part 1
// (properties, events, shadow, housekeeping) is thing_sql_store.cpp.
#include "store/thing_sql_store.hpp"

#include <algorithm>
#include <limits>
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

result<downlink_record> read_downlink(const statement& s) {
  static constexpr downlink_type types[] = {downlink_type::property_set, downlink_type::service,
                                            downlink_type::rrpc};
  static constexpr downlink_outcome outcomes[] = {
      downlink_outcome::pending, downlink_outcome::success, downlink_outcome::timeout,
      downlink_outcome::offline};
  const std::string type = s.text(1);
  const std::string outcome = s.text(5);
  const auto t = std::find_if(std::begin(types), std::end(types),
                              [&](downlink_type x) { return to_string(x) == type; });
  const auto o = std::find_if(std::begin(outcomes), std::end(outcomes),
                              [&](downlink_outcome x) { return to_string(x) == outcome; });
  if (t == std::end(types) || o == std::end(outcomes)) {
    return make_error_code(errc::corrupt); // the CHECK constraints keep these out
  }
  downlink_record r{.id = s.text(0),
                    .type = *t,
                    .identifier = s.text(2),
                    .request = s.bytes(3),
                    .sent = s.time(4),
                    .outcome = *o,
                    .reply_code = std::nullopt,
                    .reply = s.optional_bytes(7),
                    .completed = s.optional_time(8)};
  if (!s.is_null(6)) {
    r.reply_code = static_cast<int>(s.int64(6));
  }
  return r;
}

// Appends one value or event to its series: the sequence number it gets.
} // namespace

// ---- device info ----------------------------------------------------------------------------

result<void> sql_thing_store::set_attributes(std::string_view product_key,
                                             std::string_view device_name,
                                             std::span<const device_attribute> attributes) {
  const std::error_code input = check_each(attributes, [](const device_attribute& a) {
    if (auto ec = check_attribute_key(a.key)) {
      return ec;
    }
    return check_thing_value(a.value);
  });
  return checked_write(product_key, device_name, input, [&] {
    return run_each(*db_, attributes, tq::set_attribute,
                    [&](statement& s, const device_attribute& a) {
                      s.bind(1, product_key)
                          .bind(2, device_name)
                          .bind(3, a.key)
                          .bind(4, a.value)
                          .bind(5, a.updated);
                    });
  });
}

result<void> sql_thing_store::delete_attributes(std::string_view product_key,
                                                std::string_view device_name,
                                                std::span<const std::string> keys) {
  const std::error_code input =
      check_each(keys, [](const std::string& k) { return check_attribute_key(k); });
  return checked_write(product_key, device_name, input, [&] {
    return run_each(*db_, keys, tq::delete_attribute, [&](statement& s, const std::string& k) {
      s.bind(1, product_key).bind(2, device_name).bind(3, k);
    });
  });
}

result<std::vector<device_attribute>>
sql_thing_store::attributes(std::string_view product_key, std::string_view device_name) const {
  if (auto ec = check_device(product_key, device_name)) {
    return ec;
  }
  std::lock_guard lock(mu_);
  return rows<device_attribute>(
      *db_, tq::attributes, [&](statement& s) { s.bind(1, product_key).bind(2, device_name); },
      [](const statement& s) {
        return device_attribute{.key = s.text(0), .value = s.text(1), .updated = s.time(2)};
      });
}

// ---- firmware -------------------------------------------------------------------------------

result<void> sql_thing_store::record_firmware(std::string_view product_key,
                                              std::string_view device_name,
                                              const firmware_version& v) {
  return checked_write(product_key, device_name, check_firmware(v.module, v.version), [&] {
    return run(*db_, tq::record_firmware, [&](statement& s) {
      s.bind(1, product_key)
          .bind(2, device_name)
          .bind(3, v.module)
          .bind(4, v.version)
          .bind(5, v.reported);
    });
  });
}

result<std::vector<firmware_version>>
sql_thing_store::firmware(std::string_view product_key, std::string_view device_name) const {
  if (auto ec = check_device(product_key, device_name)) {
    return ec;
  }
  std::lock_guard lock(mu_);
  return rows<firmware_version>(
      *db_, tq::firmware, [&](statement& s) { s.bind(1, product_key).bind(2, device_name); },
      [](const statement& s) {
        return firmware_version{.module = s.text(0), .version = s.text(1), .reported = s.time(2)};
      });
}

result<std::vector<version_count>>
sql_thing_store::firmware_counts(std::string_view product_key) const {
  if (auto ec = check_product_key(product_key)) {
    return ec;
  }
  std::lock_guard lock(mu_);
  return rows<version_count>(
      *db_, tq::firmware_counts, [&](statement& s) { s.bind(1, product_key); },
      [](const statement& s) {
        return version_count{.module = s.text(0),
                             .version = s.text(1),
                             .devices = static_cast<std::uint64_t>(s.int64(2))};
      });
}

// ---- desired --------------------------------------------------------------------------------

result<std::int64_t> sql_thing_store::set_desired(std::string_view product_key,
                                                  std::string_view device_name,
                                                  std::string_view identifier,
                                                  std::string_view value, timestamp now) {
  if (auto ec = check_device(product_key, device_name)) {
    return ec;
  }
  if (auto ec = check_thing_identifier(identifier)) {
    return ec;
  }
  if (auto ec = check_thing_value(value)) {
    return ec;
  }
  std::lock_guard lock(mu_);
  return returning(*db_, tq::set_desired, [&](statement& s) {
    s.bind(1, product_key).bind(2, device_name).bind(3, identifier).bind(4, value).bind(5, now);
  });
}

result<std::vector<desired_property>>
sql_thing_store::get_desired(std::string_view product_key, std::string_view device_name,
                             std::span<const std::string> identifiers) const {
  if (auto ec = check_device(product_key, device_name)) {
    return ec;
  }
  if (auto ec = check_each(identifiers,
                           [](const std::string& id) { return check_thing_identifier(id); })) {
    return ec;
  }
  auto read = [](const statement& s) {
    return desired_property{
        .identifier = s.text(0), .value = s.text(1), .version = s.int64(2), .updated = s.time(3)};
  };
  std::lock_guard lock(mu_);
  if (identifiers.empty()) {
    return rows<desired_property>(
        *db_, tq::desired_all, [&](statement& s) { s.bind(1, product_key).bind(2, device_name); },
        read);
  }
  std::vector<std::string> sorted(identifiers.begin(), identifiers.end());
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::vector<desired_property> out;
  for (const std::string& id : sorted) {
    auto one = rows<desired_property>(
        *db_, tq::desired_one,
        [&](statement& s) { s.bind(1, product_key).bind(2, device_name).bind(3, id); }, read);
    if (!one) {
      return one.error();
    }
    std::move(one->begin(), one->end(), std::back_inserter(out));
  }
  return out;
}

result<void> sql_thing_store::delete_desired(std::string_view product_key,
                                             std::string_view device_name,
                                             std::span<const desired_removal> removals) {
  const std::error_code input = check_each(
      removals, [](const desired_removal& r) { return check_thing_identifier(r.identifier); });
  return checked_write(product_key, device_name, input, [&] {
    return run_each(*db_, removals, tq::remove_desired,
                    [&](statement& s, const desired_removal& r) {
                      s.bind(1, product_key).bind(2, device_name).bind(3, r.identifier);
                      if (r.version) {
                        s.bind(4, *r.version);
                      } else {
                        s.bind_null(4);
                      }
                    });
  });
}

// ---- downlinks ------------------------------------------------------------------------------

result<void> sql_thing_store::record_downlink(std::string_view product_key,
                                              std::string_view device_name,
                                              const downlink_record& r) {
  if (auto ec = check_downlink_id(r.id)) {
    return ec;
  }
  if (!r.identifier.empty()) {
    if (auto ec = check_thing_identifier(r.identifier)) {
      return ec;
    }
  }
  const bool too_large = r.request.size() > max_thing_value_bytes ||
                         (r.reply && r.reply->size() > max_thing_value_bytes);
  return checked_write(
      product_key, device_name,
      too_large ? make_error_code(thing_errc::bad_value) : std::error_code{},
      [&]() -> std::error_code {
        if (auto ec = run(*db_, tq::insert_downlink, [&](statement& s) {
              s.bind(1, product_key).bind(2, device_name).bind(3, r.id).bind(4, to_string(r.type));
              s.bind(5, r.identifier)
                  .bind_bytes(6, r.request)
                  .bind(7, r.sent)
                  .bind(8, to_string(r.outcome));
              if (r.reply_code) {
                s.bind(9, std::int64_t{*r.reply_code});
              } else {
                s.bind_null(9);
              }
              s.bind_bytes(10, r.reply ? std::optional<std::string_view>(*r.reply) : std::nullopt);
              if (r.completed) {
                s.bind(11, *r.completed);
              } else {
                s.bind_null(11);
              }
            })) {
          return ec; // a taken id: already_exists; an unknown device: not_found
        }
        if (keep_.max_downlinks > 0) {
          if (auto ec = run(*db_, tq::trim_downlinks_count, [&](statement& s) {
                s.bind(1, product_key)
                    .bind(2, device_name)
                    .bind(3, sql::to_sql(keep_.max_downlinks))
                    .bind(4, std::numeric_limits<std::int64_t>::max());
              })) {
            return ec;
          }
        }
        if (const auto cutoff = age_cutoff(r.sent, keep_.max_downlink_age)) {
          return run(*db_, tq::trim_downlinks_age, [&](statement& s) {
            s.bind(1, product_key).bind(2, device_name).bind(3, *cutoff);
          });
        }
        return {};
      });
}

result<void> sql_thing_store::complete_downlink(std::string_view product_key,
                                                std::string_view device_name, std::string_view id,
                                                downlink_outcome outcome,
                                                std::optional<int> reply_code,
                                                std::optional<std::string_view> reply,
                                                timestamp at) {
  if (auto ec = check_device(product_key, device_name)) {
    return ec;
  }
  if (auto ec = check_downlink_id(id)) {
    return ec;
  }
  if (outcome == downlink_outcome::pending || (reply && reply->size() > max_thing_value_bytes)) {
    return make_error_code(thing_errc::bad_value);
  }
  std::lock_guard lock(mu_);
  if (auto ec = run(*db_, tq::complete_downlink, [&](statement& s) {
        s.bind(1, product_key).bind(2, device_name).bind(3, id).bind(4, to_string(outcome));
        if (reply_code) {
          s.bind(5, std::int64_t{*reply_code});
        } else {
          s.bind_null(5);
        }
        s.bind_bytes(6, reply).bind(7, at);
      })) {
    return ec;
  }
  if (db_->changes() == 0) {
    return make_error_code(errc::not_found);
  }
  return {};
}

result<downlink_record> sql_thing_store::get_downlink(std::string_view product_key,
                                                      std::string_view device_name,
                                                      std::string_view id) const {
  if (auto ec = check_device(product_key, device_name)) {
    return ec;
  }
  if (auto ec = check_downlink_id(id)) {
    return ec;
  }
  std::lock_guard lock(mu_);
  auto row = first_row<result<downlink_record>>(
      *db_, tq::get_downlink,
      [&](statement& s) { s.bind(1, product_key).bind(2, device_name).bind(3, id); },
      read_downlink);
  if (!row) {
    return row.error();
  }
  if (!*row) {
    return make_error_code(errc::not_found);
  }
  return std::move(**row);
}

result<std::vector<downlink_record>> sql_thing_store::downlinks(std::string_view product_key,
                                                                std::string_view device_name,
                                                                page p) const {
  if (auto ec = check_device(product_key, device_name)) {
    return ec;
  }
  if (auto ec = check_page(p)) {
    return ec;
  }
  std::lock_guard lock(mu_);
  auto s = db_->prepare(tq::list_downlinks);
  if (!s) {
    return s.error();
  }
  s->bind(1, product_key).bind(2, device_name).bind(3, sql::to_sql(p.limit));
  s->bind(4, sql::to_sql(p.offset));
  std::vector<downlink_record> out;
  if (auto ec = sql::for_each_row(*s, [&](const statement& row) -> std::error_code {
        auto r = read_downlink(row);
        if (!r) {
          return r.error();
        }
        out.push_back(std::move(*r));
        return {};
      })) {
    return ec;
  }
  return out;
}

} // namespace thingport::store
