// The identity store on a SQL database (sql_connection.hpp): the same statements and
// transactions on the embedded SQLite file (sqlite_identity_store.hpp) and on PostgreSQL
// (pg_store.hpp). Schemas in docs/store-format.md.
//
// Threads: every member may be called from any thread. One mutex guards the one connection and
// its cached statements, so calls run one at a time, each to completion (commit included). That
// is enough for identity data: writes are rare control-plane operations, and the broker reads
// everything once at start through load_all() and serves CONNECT from memory. load_all() holds
// the mutex for the whole scan. No other lock is taken while it is held.
#pragma once

#include <memory>
#include <mutex>

#include "store/identity_store.hpp"

namespace thingport::store {

namespace sql {
class connection;
}

class sql_identity_store : public identity_store {
public:
  // Over a connection whose schema is already at this build's version.
  explicit sql_identity_store(std::unique_ptr<sql::connection> db);
  ~sql_identity_store() override;

  result<product> create_product(const new_product& spec) override;
  result<product> get_product(std::string_view product_key) const override;
  result<std::vector<product>> list_products(page p) const override;
  result<void> set_thing_model(std::string_view product_key,
                               std::optional<std::string_view> json) override;
  result<std::optional<std::string>> get_thing_model(std::string_view product_key) const override;

  result<void> add_topic_class(const topic_class& tc) override;
  result<std::vector<topic_class>> list_topic_classes(std::string_view product_key) const override;

  result<device> create_device(std::string_view product_key, const new_device& spec) override;
  result<std::vector<device>> create_devices(std::string_view product_key,
                                             std::span<const new_device> specs) override;
  result<device> get_device(std::string_view product_key,
                            std::string_view device_name) const override;
  result<std::vector<device>> list_devices(std::string_view product_key, page p) const override;
  result<std::uint64_t> count_devices(std::string_view product_key) const override;
  result<void> set_device_enabled(std::string_view product_key, std::string_view device_name,
                                  bool enabled) override;
  result<void> delete_device(std::string_view product_key, std::string_view device_name) override;
  result<void> record_online(std::string_view product_key, std::string_view device_name,
                             timestamp at, std::string_view ip) override;
  result<void> record_offline(std::string_view product_key, std::string_view device_name,
                              timestamp at) override;
  result<std::size_t> record_status(std::span<const status_change> changes) override;
  result<void> set_device_token(std::string_view product_key, std::string_view device_name,
                                std::optional<std::string_view> token) override;

  result<application> create_app(const new_application& spec) override;
  result<application> get_app(std::string_view app_key) const override;
  result<std::vector<application>> list_apps(page p) const override;
  result<void> add_sub_devices(std::string_view gateway_pk, std::string_view gateway_dn,
                               std::span<const device_ref> subs) override;
  result<void> remove_sub_devices(std::string_view gateway_pk, std::string_view gateway_dn,
                                  std::span<const device_ref> subs) override;
  result<std::vector<device_ref>> sub_devices(std::string_view gateway_pk,
                                              std::string_view gateway_dn) const override;
  result<std::optional<device_ref>> gateway_of(std::string_view product_key,
                                               std::string_view device_name) const override;
  result<void> set_app_enabled(std::string_view app_key, bool enabled) override;

  std::error_code load_all(identity_sink& sink) const override;

private:
  // Empty when the product exists, not_found when not, or the database's error.
  std::error_code require_product(std::string_view product_key) const;
  result<std::vector<std::string>> app_products(std::string_view app_key) const;
  // The (product_key, device_name) rows `sql` selects with ?1 = a, ?2 = b; under the mutex.
  result<std::vector<device_ref>> refs_where(const char* sql, std::string_view a,
                                             std::string_view b) const;
  // One UPDATE/DELETE of a device row: not_found when no row changed.
  template <typename Bind>
  result<void> update_device(const char* sql, std::string_view product_key,
                             std::string_view device_name, Bind&& bind_rest);

  mutable std::mutex mu_;
  std::unique_ptr<sql::connection> db_; // guarded by mu_
};

} // namespace thingport::store
