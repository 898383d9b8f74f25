// The SQL of sql_thing_store, and the SQLite schema of its tables (docs/store-format.md "thing
// data"). Internal to store/; used under the store's mutex only. Every statement text has static
// storage: it is the key of the connection's statement cache.
#pragma once

#include <iterator>

#include "store/ota_sql.hpp"
#include "store/sql_migrate.hpp"

namespace thingport::store::thing_sql {

// The thing schema's version lives in thing_meta, not in PRAGMA user_version (which is the
// identity schema's). Steps only ever append, as the identity schema's do.
inline constexpr int schema_version = 5;

inline constexpr const char* create_meta = R"sql(
CREATE TABLE IF NOT EXISTS thing_meta (
  key   TEXT    NOT NULL PRIMARY KEY,
  value INTEGER NOT NULL
) STRICT;
)sql";

inline constexpr const char* read_version =
    "SELECT value FROM thing_meta WHERE key = 'schema_version'";
inline constexpr const char* write_version =
    "INSERT INTO thing_meta (key, value) VALUES ('schema_version', ?1) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value";

#define TP_DEVICE_FK                                                                               \
  "FOREIGN KEY (product_key, device_name) REFERENCES device (product_key, device_name) "           \
  "ON DELETE CASCADE"

inline constexpr const char* schema_v1 =
    // The latest value of each property.
    "CREATE TABLE thing_property ("
    "  product_key TEXT NOT NULL, device_name TEXT NOT NULL, identifier TEXT NOT NULL,"
    "  value TEXT NOT NULL, time_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (product_key, device_name, identifier), " TP_DEVICE_FK ") STRICT, WITHOUT ROWID;"
    // Per device, kind ('p' property history, 'e' events) and identifier: the next sequence
    // number. Count retention deletes below next_seq - max, without counting rows.
    "CREATE TABLE thing_series ("
    "  product_key TEXT NOT NULL, device_name TEXT NOT NULL,"
    "  kind TEXT NOT NULL CHECK (kind IN ('p', 'e')), identifier TEXT NOT NULL,"
    "  next_seq INTEGER NOT NULL,"
    "  PRIMARY KEY (product_key, device_name, kind, identifier), " TP_DEVICE_FK
    ") STRICT, WITHOUT ROWID;"
    "CREATE TABLE thing_property_history ("
    "  product_key TEXT NOT NULL, device_name TEXT NOT NULL, identifier TEXT NOT NULL,"
    "  seq INTEGER NOT NULL, time_ms INTEGER NOT NULL, value TEXT NOT NULL,"
    "  PRIMARY KEY (product_key, device_name, identifier, seq), " TP_DEVICE_FK
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX thing_property_history_by_time"
    "  ON thing_property_history (product_key, device_name, identifier, time_ms);"
    "CREATE TABLE thing_event ("
    "  product_key TEXT NOT NULL, device_name TEXT NOT NULL, identifier TEXT NOT NULL,"
    "  seq INTEGER NOT NULL, time_ms INTEGER NOT NULL, type TEXT NOT NULL, output TEXT NOT NULL,"
    "  PRIMARY KEY (product_key, device_name, identifier, seq), " TP_DEVICE_FK
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX thing_event_by_identifier_time"
    "  ON thing_event (product_key, device_name, identifier, time_ms);"
    "CREATE INDEX thing_event_by_time ON thing_event (product_key, device_name, time_ms);"
    "CREATE TABLE thing_shadow ("
    "  product_key TEXT NOT NULL, device_name TEXT NOT NULL,"
    "  document TEXT NOT NULL, version INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (product_key, device_name), " TP_DEVICE_FK ") STRICT, WITHOUT ROWID;"
    "CREATE TABLE thing_attribute ("
    "  product_key TEXT NOT NULL, device_name TEXT NOT NULL, attr_key TEXT NOT NULL,"
    "  attr_value TEXT NOT NULL, updated_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (product_key, device_name, attr_key), " TP_DEVICE_FK ") STRICT, WITHOUT ROWID;"
    // value NULL: removed; the row keeps the version so that versions never go back.
    "CREATE TABLE thing_desired ("
    "  product_key TEXT NOT NULL, device_name TEXT NOT NULL, identifier TEXT NOT NULL,"
    "  value TEXT, version INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (product_key, device_name, identifier), " TP_DEVICE_FK ") STRICT, WITHOUT ROWID;"
    "CREATE TABLE thing_downlink ("
    "  product_key TEXT NOT NULL, device_name TEXT NOT NULL, id TEXT NOT NULL,"
    "  type TEXT NOT NULL CHECK (type IN ('property_set', 'service', 'rrpc')),"
    "  identifier TEXT NOT NULL, request TEXT NOT NULL, sent_ms INTEGER NOT NULL,"
    "  outcome TEXT NOT NULL CHECK (outcome IN ('PENDING', 'SUCCESS', 'TIMEOUT', 'OFFLINE')),"
    "  reply_code INTEGER, reply TEXT, completed_ms INTEGER,"
    "  PRIMARY KEY (product_key, device_name, id), " TP_DEVICE_FK ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX thing_downlink_by_sent ON thing_downlink (product_key, device_name, sent_ms);";

// Version 2: the firmware version each module of a device reports (OTA inform).
inline constexpr const char* schema_v2 =
    "CREATE TABLE thing_firmware ("
    "  product_key TEXT NOT NULL, device_name TEXT NOT NULL, module TEXT NOT NULL,"
    "  version TEXT NOT NULL, reported_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (product_key, device_name, module), " TP_DEVICE_FK ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX thing_firmware_by_version ON thing_firmware (product_key, module, version);";

// Version 3: OTA firmware and upgrade jobs (ota_sql.hpp). Version 4: a job's download protocol;
// 5: its start time.
inline constexpr sql::migration migrations[] = {{1, schema_v1},
                                                {2, schema_v2},
                                                {3, ota_sql::sqlite_schema},
                                                {4, ota_sql::sqlite_protocol},
                                                {5, ota_sql::sqlite_start}};
static_assert(std::size(migrations) == schema_version);

// ---- properties -----------------------------------------------------------------------------
// The statements of a post need no answer from each other (a backend may send them all before
// reading any): a value's sequence number is read back by the insert that follows its bump.
inline constexpr const char* bump_seq =
    "INSERT INTO thing_series (product_key, device_name, kind, identifier, next_seq) "
    "VALUES (?1, ?2, ?3, ?4, 2) "
    "ON CONFLICT (product_key, device_name, kind, identifier) "
    "DO UPDATE SET next_seq = thing_series.next_seq + 1";
#define TP_LAST_SEQ(kind)                                                                          \
  "(SELECT next_seq - 1 FROM thing_series WHERE product_key = ?1 AND device_name = ?2 "            \
  "AND kind = '" kind "' AND identifier = ?3)"
inline constexpr const char* upsert_latest =
    "INSERT INTO thing_property (product_key, device_name, identifier, value, time_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (product_key, device_name, identifier) DO UPDATE SET "
    "value = excluded.value, time_ms = excluded.time_ms "
    "WHERE excluded.time_ms >= thing_property.time_ms";
inline constexpr const char* insert_history =
    "INSERT INTO thing_property_history (product_key, device_name, identifier, seq, time_ms, "
    "value) VALUES (?1, ?2, ?3, " TP_LAST_SEQ("p") ", ?4, ?5)";
// Keeps the last ?4 values: below next_seq - ?4 they go.
inline constexpr const char* trim_history_count =
    "DELETE FROM thing_property_history WHERE product_key = ?1 AND device_name = ?2 "
    "AND identifier = ?3 AND seq <= " TP_LAST_SEQ("p") " - ?4";
inline constexpr const char* trim_history_age =
    "DELETE FROM thing_property_history WHERE product_key = ?1 AND device_name = ?2 "
    "AND identifier = ?3 AND time_ms < ?4";
inline constexpr const char* latest =
    "SELECT identifier, value, time_ms FROM thing_property "
    "WHERE product_key = ?1 AND device_name = ?2 ORDER BY identifier";
inline constexpr const char* history_desc =
    "SELECT identifier, value, time_ms FROM thing_property_history "
    "WHERE product_key = ?1 AND device_name = ?2 AND identifier = ?3 "
    "AND time_ms BETWEEN ?4 AND ?5 ORDER BY time_ms DESC, seq DESC LIMIT ?6";
inline constexpr const char* history_asc =
    "SELECT identifier, value, time_ms FROM thing_property_history "
    "WHERE product_key = ?1 AND device_name = ?2 AND identifier = ?3 "
    "AND time_ms BETWEEN ?4 AND ?5 ORDER BY time_ms ASC, seq ASC LIMIT ?6";

// ---- events ---------------------------------------------------------------------------------
inline constexpr const char* insert_event =
    "INSERT INTO thing_event (product_key, device_name, identifier, seq, time_ms, type, output) "
    "VALUES (?1, ?2, ?3, " TP_LAST_SEQ("e") ", ?4, ?5, ?6)";
inline constexpr const char* trim_events_count =
    "DELETE FROM thing_event WHERE product_key = ?1 AND device_name = ?2 "
    "AND identifier = ?3 AND seq <= " TP_LAST_SEQ("e") " - ?4";
#undef TP_LAST_SEQ
inline constexpr const char* trim_events_age =
    "DELETE FROM thing_event WHERE product_key = ?1 AND device_name = ?2 "
    "AND identifier = ?3 AND time_ms < ?4";
#define TP_EVENT_COLUMNS "identifier, type, output, time_ms"
inline constexpr const char* events_one_desc =
    "SELECT " TP_EVENT_COLUMNS " FROM thing_event WHERE product_key = ?1 AND device_name = ?2 "
    "AND identifier = ?3 AND time_ms BETWEEN ?4 AND ?5 ORDER BY time_ms DESC, seq DESC LIMIT ?6";
inline constexpr const char* events_one_asc =
    "SELECT " TP_EVENT_COLUMNS " FROM thing_event WHERE product_key = ?1 AND device_name = ?2 "
    "AND identifier = ?3 AND time_ms BETWEEN ?4 AND ?5 ORDER BY time_ms ASC, seq ASC LIMIT ?6";
inline constexpr const char* events_all_desc =
    "SELECT " TP_EVENT_COLUMNS " FROM thing_event WHERE product_key = ?1 AND device_name = ?2 "
    "AND time_ms BETWEEN ?4 AND ?5 "
    "ORDER BY time_ms DESC, identifier DESC, seq DESC LIMIT ?6";
inline constexpr const char* events_all_asc =
    "SELECT " TP_EVENT_COLUMNS " FROM thing_event WHERE product_key = ?1 AND device_name = ?2 "
    "AND time_ms BETWEEN ?4 AND ?5 "
    "ORDER BY time_ms ASC, identifier ASC, seq ASC LIMIT ?6";

// ---- shadow ---------------------------------------------------------------------------------
inline constexpr const char* get_shadow = "SELECT document, version, updated_ms FROM thing_shadow "
                                          "WHERE product_key = ?1 AND device_name = ?2";
inline constexpr const char* insert_shadow =
    "INSERT INTO thing_shadow (product_key, device_name, document, version, updated_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (product_key, device_name) DO NOTHING";
inline constexpr const char* update_shadow =
    "UPDATE thing_shadow SET document = ?3, version = ?4, updated_ms = ?5 "
    "WHERE product_key = ?1 AND device_name = ?2 AND version = ?6";

// ---- device info ----------------------------------------------------------------------------
inline constexpr const char* set_attribute =
    "INSERT INTO thing_attribute (product_key, device_name, attr_key, attr_value, updated_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (product_key, device_name, attr_key) "
    "DO UPDATE SET attr_value = excluded.attr_value, updated_ms = excluded.updated_ms";
inline constexpr const char* delete_attribute =
    "DELETE FROM thing_attribute WHERE product_key = ?1 AND device_name = ?2 AND attr_key = ?3";
inline constexpr const char* attributes =
    "SELECT attr_key, attr_value, updated_ms FROM thing_attribute "
    "WHERE product_key = ?1 AND device_name = ?2 ORDER BY attr_key";

// ---- firmware -------------------------------------------------------------------------------
inline constexpr const char* record_firmware =
    "INSERT INTO thing_firmware (product_key, device_name, module, version, reported_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (product_key, device_name, module) "
    "DO UPDATE SET version = excluded.version, reported_ms = excluded.reported_ms";
inline constexpr const char* firmware =
    "SELECT module, version, reported_ms FROM thing_firmware "
    "WHERE product_key = ?1 AND device_name = ?2 ORDER BY module";
inline constexpr const char* firmware_counts =
    "SELECT module, version, count(*) FROM thing_firmware WHERE product_key = ?1 "
    "GROUP BY module, version ORDER BY module, version";

// ---- desired --------------------------------------------------------------------------------
inline constexpr const char* set_desired =
    "INSERT INTO thing_desired (product_key, device_name, identifier, value, version, updated_ms) "
    "VALUES (?1, ?2, ?3, ?4, 1, ?5) ON CONFLICT (product_key, device_name, identifier) "
    "DO UPDATE SET value = excluded.value, version = thing_desired.version + 1, "
    "updated_ms = excluded.updated_ms RETURNING version";
inline constexpr const char* desired_all =
    "SELECT identifier, value, version, updated_ms FROM thing_desired "
    "WHERE product_key = ?1 AND device_name = ?2 AND value IS NOT NULL ORDER BY identifier";
inline constexpr const char* desired_one =
    "SELECT identifier, value, version, updated_ms FROM thing_desired "
    "WHERE product_key = ?1 AND device_name = ?2 AND identifier = ?3 AND value IS NOT NULL";
inline constexpr const char* remove_desired =
    "UPDATE thing_desired SET value = NULL WHERE product_key = ?1 AND device_name = ?2 "
    "AND identifier = ?3 AND value IS NOT NULL AND (CAST(?4 AS BIGINT) IS NULL OR version <= ?4)";

// ---- downlinks ------------------------------------------------------------------------------
#define TP_DOWNLINK_COLUMNS                                                                        \
  "id, type, identifier, request, sent_ms, outcome, reply_code, reply, completed_ms"
inline constexpr const char* insert_downlink =
    "INSERT INTO thing_downlink (product_key, device_name, " TP_DOWNLINK_COLUMNS
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
inline constexpr const char* trim_downlinks_count =
    "DELETE FROM thing_downlink WHERE product_key = ?1 AND device_name = ?2 AND id IN ("
    "SELECT id FROM thing_downlink WHERE product_key = ?1 AND device_name = ?2 "
    "ORDER BY sent_ms DESC, id DESC LIMIT ?4 OFFSET ?3)";
inline constexpr const char* trim_downlinks_age =
    "DELETE FROM thing_downlink WHERE product_key = ?1 AND device_name = ?2 AND sent_ms < ?3";
inline constexpr const char* complete_downlink =
    "UPDATE thing_downlink SET outcome = ?4, reply_code = ?5, reply = ?6, completed_ms = ?7 "
    "WHERE product_key = ?1 AND device_name = ?2 AND id = ?3 AND outcome = 'PENDING'";
inline constexpr const char* get_downlink =
    "SELECT " TP_DOWNLINK_COLUMNS " FROM thing_downlink "
    "WHERE product_key = ?1 AND device_name = ?2 AND id = ?3";
inline constexpr const char* list_downlinks = "SELECT " TP_DOWNLINK_COLUMNS " FROM thing_downlink "
                                              "WHERE product_key = ?1 AND device_name = ?2 "
                                              "ORDER BY sent_ms DESC, id DESC LIMIT ?3 OFFSET ?4";

// ---- housekeeping ---------------------------------------------------------------------------
inline constexpr const char* all_series =
    "SELECT product_key, device_name, kind, identifier FROM thing_series";
inline constexpr const char* prune_downlinks = "DELETE FROM thing_downlink WHERE sent_ms < ?1";
// One statement per table, in the order the foreign keys allow (none between thing tables).
inline constexpr const char* delete_device[] = {
    "DELETE FROM thing_property WHERE product_key = ?1 AND device_name = ?2",
    "DELETE FROM thing_property_history WHERE product_key = ?1 AND device_name = ?2",
    "DELETE FROM thing_series WHERE product_key = ?1 AND device_name = ?2",
    "DELETE FROM thing_event WHERE product_key = ?1 AND device_name = ?2",
    "DELETE FROM thing_shadow WHERE product_key = ?1 AND device_name = ?2",
    "DELETE FROM thing_attribute WHERE product_key = ?1 AND device_name = ?2",
    "DELETE FROM thing_desired WHERE product_key = ?1 AND device_name = ?2",
    "DELETE FROM thing_downlink WHERE product_key = ?1 AND device_name = ?2",
    "DELETE FROM thing_firmware WHERE product_key = ?1 AND device_name = ?2",
};

#undef TP_DEVICE_FK

} // namespace thingport::store::thing_sql
