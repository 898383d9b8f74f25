// The thing store on a SQL database (sql_connection.hpp): the same statements and transactions
// on the embedded SQLite file (thing_sqlite.hpp) and on PostgreSQL (pg_store.hpp). Schemas in
// docs/store-format.md "thing data". Thing data references devices (foreign keys, ON DELETE
// CASCADE: deleting a device deletes its thing data in the same statement).
//
// Threads: every member may be called from any thread. One mutex guards the connection; calls
// run one at a time. Writes run in write transactions, one per call: a property post of 200
// values is one transaction, and write() groups many devices' posts into one (group commit,
// one savepoint per post).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "store/thing_store.hpp"

namespace thingport::store {

namespace sql {
class connection;
}

class sql_thing_store : public thing_store {
public:
  // Over a connection whose thing schema is already at this build's version.
  sql_thing_store(std::unique_ptr<sql::connection> db, retention keep);
  ~sql_thing_store() override;

  result<void> append_properties(std::string_view product_key, std::string_view device_name,
                                 std::span<const property_value> values, timestamp now) override;
  result<std::vector<property_value>>
  latest_properties(std::string_view product_key, std::string_view device_name) const override;
  result<std::vector<property_value>> property_history(std::string_view product_key,
                                                       std::string_view device_name,
                                                       std::string_view identifier,
                                                       const time_query& q) const override;

  result<void> append_events(std::string_view product_key, std::string_view device_name,
                             std::span<const event_record> events, timestamp now) override;
  result<std::vector<event_record>> events(std::string_view product_key,
                                           std::string_view device_name,
                                           std::string_view identifier,
                                           const time_query& q) const override;

  result<std::vector<std::error_code>> write(std::span<const thing_write> writes,
                                             timestamp now) override;

  result<std::optional<shadow_document>> get_shadow(std::string_view product_key,
                                                    std::string_view device_name) const override;
  result<void> put_shadow(std::string_view product_key, std::string_view device_name,
                          const shadow_document& doc, std::int64_t expected_version) override;

  result<void> set_attributes(std::string_view product_key, std::string_view device_name,
                              std::span<const device_attribute> attributes) override;
  result<void> delete_attributes(std::string_view product_key, std::string_view device_name,
                                 std::span<const std::string> keys) override;
  result<std::vector<device_attribute>> attributes(std::string_view product_key,
                                                   std::string_view device_name) const override;

  result<std::int64_t> set_desired(std::string_view product_key, std::string_view device_name,
                                   std::string_view identifier, std::string_view value,
                                   timestamp now) override;
  result<std::vector<desired_property>>
  get_desired(std::string_view product_key, std::string_view device_name,
              std::span<const std::string> identifiers) const override;
  result<void> delete_desired(std::string_view product_key, std::string_view device_name,
                              std::span<const desired_removal> removals) override;

  result<void> record_downlink(std::string_view product_key, std::string_view device_name,
                               const downlink_record& record) override;
  result<void> complete_downlink(std::string_view product_key, std::string_view device_name,
                                 std::string_view id, downlink_outcome outcome,
                                 std::optional<int> reply_code,
                                 std::optional<std::string_view> reply, timestamp at) override;
  result<downlink_record> get_downlink(std::string_view product_key, std::string_view device_name,
                                       std::string_view id) const override;
  result<std::vector<downlink_record>>
  downlinks(std::string_view product_key, std::string_view device_name, page p) const override;

  result<void> record_firmware(std::string_view product_key, std::string_view device_name,
                               const firmware_version& v) override;
  result<std::vector<firmware_version>> firmware(std::string_view product_key,
                                                 std::string_view device_name) const override;
  result<std::vector<version_count>> firmware_counts(std::string_view product_key) const override;

  result<std::uint64_t> prune(timestamp now) override;
  result<void> delete_device_data(std::string_view product_key,
                                  std::string_view device_name) override;

protected:
  sql::connection& db() noexcept { return *db_; }

private:
  // The bodies of the telemetry writes, inside a transaction the caller holds.
  std::error_code put_properties(std::string_view pk, std::string_view dn,
                                 std::span<const property_value> values, timestamp now);
  std::error_code put_events(std::string_view pk, std::string_view dn,
                             std::span<const event_record> events, timestamp now);
  // The same without the budget check and without waiting for answers (sql::connection::defer):
  // the caller flushes.
  std::error_code queue_properties(std::string_view pk, std::string_view dn,
                                   std::span<const property_value> values, timestamp now);
  std::error_code queue_events(std::string_view pk, std::string_view dn,
                               std::span<const event_record> events, timestamp now);
  // Checks the device, then refuses `input` (the caller's checks of the rest), then runs
  // `body` in one write transaction under the mutex; an error of `body` rolls it all back.
  template <typename Body>
  result<void> checked_write(std::string_view pk, std::string_view dn, std::error_code input,
                             Body&& body);

  // retention::max_properties: refuses `values` when they would pass the bound. Under mu_.
  std::error_code check_budget(std::string_view pk, std::string_view dn,
                               std::span<const property_value> values);

  static constexpr std::size_t max_identifier_bounds = 100'000;

  retention keep_;
  mutable std::mutex mu_;
  // Per device ("pk/dn"): an upper bound of its property identifiers, so that a post far below
  // retention::max_properties costs no count (only near the bound are they counted). Exact on
  // one node; nodes sharing a PostgreSQL database may each pass the bound by what the others
  // added since they counted. Guarded by mu_.
  std::unordered_map<std::string, std::size_t> identifier_bounds_;
  std::string bound_key_;               // check_budget's lookup key, kept for its capacity
  std::unique_ptr<sql::connection> db_; // guarded by mu_
};

} // namespace thingport::store
