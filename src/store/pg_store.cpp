#include "store/pg_store.hpp"

#include "store/ota_sql.hpp"
#include "store/sql_migrate.hpp"

#include <string>

namespace thingport::store {

namespace {

// Version 1: the identity tables (as the SQLite identity schema 3) and the thing tables (as the
// SQLite thing schema 2), with PostgreSQL's types. Flags and times are BIGINT as in SQLite, so
// that both backends run the same statements; RRPC payloads (thing_downlink.request, reply) are
// bytes that need not be UTF-8, hence bytea. Steps only ever append.
constexpr const char* schema_v1 = R"sql(
CREATE TABLE product (
  product_key          TEXT   NOT NULL PRIMARY KEY,
  product_secret       TEXT   NOT NULL,
  name                 TEXT   NOT NULL,
  dynamic_registration BIGINT NOT NULL DEFAULT 0 CHECK (dynamic_registration IN (0, 1)),
  created_ms           BIGINT NOT NULL,
  thing_model          TEXT,
  node_type            TEXT   NOT NULL DEFAULT 'device'
                       CHECK (node_type IN ('device', 'gateway', 'subdevice'))
);
CREATE TABLE topic_class (
  id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  product_key TEXT   NOT NULL REFERENCES product (product_key) ON DELETE CASCADE,
  topic       TEXT   NOT NULL,
  access      TEXT   NOT NULL CHECK (access IN ('pub', 'sub', 'all')),
  created_ms  BIGINT NOT NULL,
  UNIQUE (product_key, topic)
);
CREATE TABLE device (
  product_key     TEXT   NOT NULL REFERENCES product (product_key) ON DELETE CASCADE,
  device_name     TEXT   NOT NULL,
  device_secret   TEXT   NOT NULL,
  enabled         BIGINT NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  created_ms      BIGINT NOT NULL,
  first_online_ms BIGINT,
  last_online_ms  BIGINT,
  last_offline_ms BIGINT,
  last_ip         TEXT   NOT NULL DEFAULT '',
  device_token    TEXT,
  PRIMARY KEY (product_key, device_name)
);
CREATE TABLE application (
  app_key    TEXT   NOT NULL PRIMARY KEY,
  app_secret TEXT   NOT NULL,
  name       TEXT   NOT NULL,
  enabled    BIGINT NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  created_ms BIGINT NOT NULL
);
CREATE TABLE application_product (
  app_key     TEXT NOT NULL REFERENCES application (app_key) ON DELETE CASCADE,
  product_key TEXT NOT NULL REFERENCES product (product_key) ON DELETE CASCADE,
  PRIMARY KEY (app_key, product_key)
);
CREATE INDEX application_product_by_product ON application_product (product_key);
CREATE TABLE topology (
  product_key TEXT   NOT NULL,
  device_name TEXT   NOT NULL,
  gateway_pk  TEXT   NOT NULL,
  gateway_dn  TEXT   NOT NULL,
  created_ms  BIGINT NOT NULL,
  PRIMARY KEY (product_key, device_name),
  FOREIGN KEY (product_key, device_name) REFERENCES device (product_key, device_name)
    ON DELETE CASCADE,
  FOREIGN KEY (gateway_pk, gateway_dn) REFERENCES device (product_key, device_name)
    ON DELETE CASCADE
);
CREATE INDEX topology_by_gateway ON topology (gateway_pk, gateway_dn, product_key, device_name);

CREATE TABLE thing_property (
  product_key TEXT NOT NULL, device_name TEXT NOT NULL, identifier TEXT NOT NULL,
  value TEXT NOT NULL, time_ms BIGINT NOT NULL,
  PRIMARY KEY (product_key, device_name, identifier),
  FOREIGN KEY (product_key, device_name) REFERENCES device ON DELETE CASCADE);
CREATE TABLE thing_series (
  product_key TEXT NOT NULL, device_name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('p', 'e')), identifier TEXT NOT NULL,
  next_seq BIGINT NOT NULL,
  PRIMARY KEY (product_key, device_name, kind, identifier),
  FOREIGN KEY (product_key, device_name) REFERENCES device ON DELETE CASCADE);
CREATE TABLE thing_property_history (
  product_key TEXT NOT NULL, device_name TEXT NOT NULL, identifier TEXT NOT NULL,
  seq BIGINT NOT NULL, time_ms BIGINT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (product_key, device_name, identifier, seq),
  FOREIGN KEY (product_key, device_name) REFERENCES device ON DELETE CASCADE);
CREATE INDEX thing_property_history_by_time
  ON thing_property_history (product_key, device_name, identifier, time_ms);
CREATE TABLE thing_event (
  product_key TEXT NOT NULL, device_name TEXT NOT NULL, identifier TEXT NOT NULL,
  seq BIGINT NOT NULL, time_ms BIGINT NOT NULL, type TEXT NOT NULL, output TEXT NOT NULL,
  PRIMARY KEY (product_key, device_name, identifier, seq),
  FOREIGN KEY (product_key, device_name) REFERENCES device ON DELETE CASCADE);
CREATE INDEX thing_event_by_identifier_time
  ON thing_event (product_key, device_name, identifier, time_ms);
CREATE INDEX thing_event_by_time ON thing_event (product_key, device_name, time_ms);
CREATE TABLE thing_shadow (
  product_key TEXT NOT NULL, device_name TEXT NOT NULL,
  document TEXT NOT NULL, version BIGINT NOT NULL, updated_ms BIGINT NOT NULL,
  PRIMARY KEY (product_key, device_name),
  FOREIGN KEY (product_key, device_name) REFERENCES device ON DELETE CASCADE);
CREATE TABLE thing_attribute (
  product_key TEXT NOT NULL, device_name TEXT NOT NULL, attr_key TEXT NOT NULL,
  attr_value TEXT NOT NULL, updated_ms BIGINT NOT NULL,
  PRIMARY KEY (product_key, device_name, attr_key),
  FOREIGN KEY (product_key, device_name) REFERENCES device ON DELETE CASCADE);
CREATE TABLE thing_desired (
  product_key TEXT NOT NULL, device_name TEXT NOT NULL, identifier TEXT NOT NULL,
  value TEXT, version BIGINT NOT NULL, updated_ms BIGINT NOT NULL,
  PRIMARY KEY (product_key, device_name, identifier),
  FOREIGN KEY (product_key, device_name) REFERENCES device ON DELETE CASCADE);
CREATE TABLE thing_downlink (
  product_key TEXT NOT NULL, device_name TEXT NOT NULL, id TEXT NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('property_set', 'service', 'rrpc')),
  identifier TEXT NOT NULL, request BYTEA NOT NULL, sent_ms BIGINT NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('PENDING', 'SUCCESS', 'TIMEOUT', 'OFFLINE')),
  reply_code BIGINT, reply BYTEA, completed_ms BIGINT,
  PRIMARY KEY (product_key, device_name, id),
  FOREIGN KEY (product_key, device_name) REFERENCES device ON DELETE CASCADE);
CREATE INDEX thing_downlink_by_sent ON thing_downlink (product_key, device_name, sent_ms);
CREATE TABLE thing_firmware (
  product_key TEXT NOT NULL, device_name TEXT NOT NULL, module TEXT NOT NULL,
  version TEXT NOT NULL, reported_ms BIGINT NOT NULL,
  PRIMARY KEY (product_key, device_name, module),
  FOREIGN KEY (product_key, device_name) REFERENCES device ON DELETE CASCADE);
CREATE INDEX thing_firmware_by_version ON thing_firmware (product_key, module, version);
)sql";

// Version 6: persistent MQTT sessions of a cluster's nodes (session_pg.hpp), each row marked with
// the node that holds it; the columns are those of the SQLite session database.
constexpr const char* schema_v6 = R"sql(
CREATE TABLE mqtt_session (
  node TEXT NOT NULL, key TEXT NOT NULL, created_ms BIGINT NOT NULL,
  PRIMARY KEY (node, key));
CREATE INDEX mqtt_session_by_key ON mqtt_session (key);
CREATE TABLE mqtt_subscription (
  node TEXT NOT NULL, session_key TEXT NOT NULL, filter TEXT NOT NULL,
  qos BIGINT NOT NULL CHECK (qos IN (0, 1, 2)),
  PRIMARY KEY (node, session_key, filter),
  FOREIGN KEY (node, session_key) REFERENCES mqtt_session ON DELETE CASCADE);
CREATE TABLE mqtt_message (
  node TEXT NOT NULL, id BIGINT NOT NULL, topic TEXT NOT NULL, payload BYTEA NOT NULL,
  qos BIGINT NOT NULL CHECK (qos IN (1, 2)), retain BIGINT NOT NULL CHECK (retain IN (0, 1)),
  expires_ms BIGINT NOT NULL,
  PRIMARY KEY (node, id));
CREATE INDEX mqtt_message_by_expiry ON mqtt_message (node, expires_ms) WHERE expires_ms > 0;
CREATE TABLE mqtt_entry (
  node TEXT NOT NULL, session_key TEXT NOT NULL, seq BIGINT NOT NULL,
  message_id BIGINT NOT NULL, qos BIGINT NOT NULL CHECK (qos IN (1, 2)),
  retain BIGINT NOT NULL CHECK (retain IN (0, 1)), state BIGINT NOT NULL CHECK (state IN (0, 1, 2)),
  packet_id BIGINT NOT NULL CHECK (packet_id BETWEEN 0 AND 65535),
  PRIMARY KEY (node, session_key, seq),
  FOREIGN KEY (node, session_key) REFERENCES mqtt_session ON DELETE CASCADE,
  FOREIGN KEY (node, message_id) REFERENCES mqtt_message);
CREATE INDEX mqtt_entry_by_message ON mqtt_entry (node, message_id);
)sql";

// Version 2: OTA firmware and upgrade jobs (ota_sql.hpp). Version 3: a job's download protocol;
// 4: its start time; 5: the firmware bytes and the link secret, for every node.
constexpr sql::migration migrations[] = {
    {1, schema_v1},         {2, ota_sql::pg_schema},       {3, ota_sql::pg_protocol},
    {4, ota_sql::pg_start}, {5, ota_sql::pg_shared_files}, {6, schema_v6}};
static_assert(std::size(migrations) == pg_schema_version);

// Migrates the database `db` is on; the version found before.
int migrate(pg::connection& db, const pg::options& opts) {
  // One lock id for every node's migration: "TPmg".
  return sql::migrate(db, sql::component_migration("PostgreSQL database " + pg::redact(opts.url),
                                                   "schema", "thingport", 1414556007, migrations));
}

std::unique_ptr<sql::connection> open(const pg::options& opts) {
  auto db = std::make_unique<pg::connection>(opts);
  migrate(*db, opts);
  return db;
}

} // namespace

int pg_migrate(pg::connection& db, const pg::options& opts) {
  return migrate(db, opts);
}

int pg_migrate(const pg::options& opts) {
  pg::connection db(opts);
  return migrate(db, opts);
}

pg_identity_store::pg_identity_store(const pg::options& opts) : sql_identity_store(open(opts)) {}

pg_thing_store::pg_thing_store(const pg::options& opts, retention keep)
    : sql_thing_store(open(opts), keep) {}

} // namespace thingport::store
