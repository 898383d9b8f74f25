// The SQL of sql_identity_store and the mapping between its rows and the store's records.
// Internal to store/; used under the store's mutex only.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <system_error>

#include "store/identity_store.hpp"
#include "store/sql_connection.hpp"

namespace thingport::store::sql {

// Every statement text has static storage: it is the key of the connection's statement cache.
#define TP_PRODUCT_COLUMNS                                                                         \
  "product_key, product_secret, name, dynamic_registration, created_ms, node_type"
#define TP_DEVICE_COLUMNS                                                                          \
  "product_key, device_name, device_secret, enabled, created_ms, first_online_ms, "                \
  "last_online_ms, last_offline_ms, last_ip, device_token"
#define TP_APP_COLUMNS "app_key, app_secret, name, enabled, created_ms"

inline constexpr const char* sql_insert_product =
    "INSERT INTO product (" TP_PRODUCT_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
inline constexpr const char* sql_get_product =
    "SELECT " TP_PRODUCT_COLUMNS " FROM product WHERE product_key = ?1";
inline constexpr const char* sql_product_exists = "SELECT 1 FROM product WHERE product_key = ?1";
inline constexpr const char* sql_list_products =
    "SELECT " TP_PRODUCT_COLUMNS " FROM product ORDER BY product_key LIMIT ?1 OFFSET ?2";
inline constexpr const char* sql_all_products =
    "SELECT " TP_PRODUCT_COLUMNS ", thing_model FROM product ORDER BY product_key";
inline constexpr const char* sql_set_thing_model =
    "UPDATE product SET thing_model = ?2 WHERE product_key = ?1";
inline constexpr const char* sql_get_thing_model =
    "SELECT thing_model FROM product WHERE product_key = ?1";

inline constexpr const char* sql_insert_topic_class =
    "INSERT INTO topic_class (product_key, topic, access, created_ms) VALUES (?1, ?2, ?3, ?4)";
inline constexpr const char* sql_list_topic_classes =
    "SELECT product_key, topic, access FROM topic_class WHERE product_key = ?1 ORDER BY id";
inline constexpr const char* sql_all_topic_classes =
    "SELECT product_key, topic, access FROM topic_class ORDER BY id";

inline constexpr const char* sql_insert_device =
    "INSERT INTO device (product_key, device_name, device_secret, enabled, created_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
inline constexpr const char* sql_get_device =
    "SELECT " TP_DEVICE_COLUMNS " FROM device WHERE product_key = ?1 AND device_name = ?2";
inline constexpr const char* sql_list_devices =
    "SELECT " TP_DEVICE_COLUMNS " FROM device WHERE product_key = ?1 "
    "ORDER BY device_name LIMIT ?2 OFFSET ?3";
inline constexpr const char* sql_all_devices =
    "SELECT " TP_DEVICE_COLUMNS " FROM device ORDER BY product_key, device_name";
inline constexpr const char* sql_count_devices =
    "SELECT count(*) FROM device WHERE product_key = ?1";
inline constexpr const char* sql_set_enabled =
    "UPDATE device SET enabled = ?3 WHERE product_key = ?1 AND device_name = ?2";
inline constexpr const char* sql_delete_device =
    "DELETE FROM device WHERE product_key = ?1 AND device_name = ?2";
inline constexpr const char* sql_record_online =
    "UPDATE device SET first_online_ms = coalesce(first_online_ms, ?3), last_online_ms = ?3, "
    "last_ip = ?4 WHERE product_key = ?1 AND device_name = ?2";
inline constexpr const char* sql_record_offline =
    "UPDATE device SET last_offline_ms = ?3 WHERE product_key = ?1 AND device_name = ?2";
inline constexpr const char* sql_set_token =
    "UPDATE device SET device_token = ?3 WHERE product_key = ?1 AND device_name = ?2";

inline constexpr const char* sql_insert_app =
    "INSERT INTO application (" TP_APP_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5)";
inline constexpr const char* sql_insert_app_product =
    "INSERT INTO application_product (app_key, product_key) VALUES (?1, ?2)";
inline constexpr const char* sql_get_app =
    "SELECT " TP_APP_COLUMNS " FROM application WHERE app_key = ?1";
inline constexpr const char* sql_app_products =
    "SELECT product_key FROM application_product WHERE app_key = ?1 ORDER BY product_key";
inline constexpr const char* sql_list_apps =
    "SELECT " TP_APP_COLUMNS " FROM application ORDER BY app_key LIMIT ?1 OFFSET ?2";
inline constexpr const char* sql_all_apps =
    "SELECT " TP_APP_COLUMNS " FROM application ORDER BY app_key";
inline constexpr const char* sql_set_app_enabled =
    "UPDATE application SET enabled = ?2 WHERE app_key = ?1";

inline constexpr const char* sql_add_sub_device =
    "INSERT INTO topology (product_key, device_name, gateway_pk, gateway_dn, created_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (product_key, device_name) DO UPDATE SET "
    "gateway_pk = excluded.gateway_pk, gateway_dn = excluded.gateway_dn, "
    "created_ms = excluded.created_ms "
    "WHERE topology.gateway_pk <> excluded.gateway_pk "
    "OR topology.gateway_dn <> excluded.gateway_dn";
inline constexpr const char* sql_gateway_of =
    "SELECT gateway_pk, gateway_dn FROM topology WHERE product_key = ?1 AND device_name = ?2";
inline constexpr const char* sql_remove_sub_device =
    "DELETE FROM topology WHERE product_key = ?1 AND device_name = ?2 AND gateway_pk = ?3 "
    "AND gateway_dn = ?4";
inline constexpr const char* sql_sub_devices =
    "SELECT product_key, device_name FROM topology WHERE gateway_pk = ?1 AND gateway_dn = ?2 "
    "ORDER BY product_key, device_name";

#undef TP_PRODUCT_COLUMNS
#undef TP_DEVICE_COLUMNS
#undef TP_APP_COLUMNS

// A node type the CHECK constraint lets through always parses; `device` stands in otherwise.
inline product read_product(const statement& s) {
  return product{
      .product_key = s.text(0),
      .product_secret = s.text(1),
      .name = s.text(2),
      .dynamic_registration = s.boolean(3),
      .created = s.time(4),
      .node = parse_node_type(s.text(5)).value_or(node_type::device),
  };
}

inline device read_device(const statement& s) {
  return device{
      .product_key = s.text(0),
      .device_name = s.text(1),
      .device_secret = s.text(2),
      .enabled = s.boolean(3),
      .created = s.time(4),
      .first_online = s.optional_time(5),
      .last_online = s.optional_time(6),
      .last_offline = s.optional_time(7),
      .last_ip = s.text(8),
      .device_token = s.optional_text(9),
  };
}

// A row that the schema's CHECK should have kept out means the file was tampered with.
inline result<topic_class> read_topic_class(const statement& s) {
  const auto acc = auth::parse_access(s.text(2));
  if (!acc || *acc == auth::access::none) {
    return make_error_code(errc::corrupt);
  }
  return topic_class{.product_key = s.text(0), .topic = s.text(1), .access = *acc};
}

inline application read_app(const statement& s) {
  return application{
      .app_key = s.text(0),
      .app_secret = s.text(1),
      .name = s.text(2),
      .enabled = s.boolean(3),
      .products = {},
      .created = s.time(4),
  };
}

} // namespace thingport::store::sql
