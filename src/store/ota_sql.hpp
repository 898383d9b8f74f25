// The SQL of ota_store and its tables' schema steps (docs/store-format.md "OTA"): the SQLite
// thing schema's step 3 and PostgreSQL's step 2. Internal to store/; statement texts have
// static storage (the connection's statement cache is keyed on them).
#pragma once

namespace thingport::store::ota_sql {

#define TP_OTA_DEVICE_FK                                                                           \
  "FOREIGN KEY (product_key, device_name) REFERENCES device (product_key, device_name) "           \
  "ON DELETE CASCADE"

// SQLite thing schema version 3.
inline constexpr const char* sqlite_schema =
    "CREATE TABLE ota_firmware ("
    "  firmware_id TEXT NOT NULL PRIMARY KEY,"
    "  product_key TEXT NOT NULL REFERENCES product (product_key) ON DELETE CASCADE,"
    "  version TEXT NOT NULL, module TEXT NOT NULL, size INTEGER NOT NULL,"
    "  md5 TEXT NOT NULL, sha256 TEXT NOT NULL, src_versions TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL) STRICT;"
    "CREATE INDEX ota_firmware_by_product ON ota_firmware (product_key, created_ms);"
    "CREATE TABLE ota_job ("
    "  job_id TEXT NOT NULL PRIMARY KEY,"
    "  product_key TEXT NOT NULL REFERENCES product (product_key) ON DELETE CASCADE,"
    "  firmware_id TEXT NOT NULL, version TEXT NOT NULL, module TEXT NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN ('running', 'done', 'canceled')),"
    "  rate_per_minute INTEGER NOT NULL, retries INTEGER NOT NULL, timeout_ms INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL) STRICT;"
    "CREATE INDEX ota_job_by_product ON ota_job (product_key, created_ms);"
    "CREATE INDEX ota_job_by_firmware ON ota_job (firmware_id, state);"
    "CREATE TABLE ota_job_device ("
    "  job_id TEXT NOT NULL REFERENCES ota_job (job_id) ON DELETE CASCADE,"
    "  product_key TEXT NOT NULL, device_name TEXT NOT NULL,"
    "  state TEXT NOT NULL"
    "    CHECK (state IN ('waiting', 'inProgress', 'succeeded', 'failed', 'canceled')),"
    "  progress INTEGER NOT NULL, attempts INTEGER NOT NULL, sent_ms INTEGER,"
    "  updated_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (job_id, device_name), " TP_OTA_DEVICE_FK ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX ota_job_device_by_device ON ota_job_device (product_key, device_name, state);"
    "CREATE INDEX ota_job_device_by_state ON ota_job_device (job_id, state, device_name);";

// PostgreSQL schema version 2: the same tables with PostgreSQL's types.
inline constexpr const char* pg_schema = R"sql(
CREATE TABLE ota_firmware (
  firmware_id TEXT NOT NULL PRIMARY KEY,
  product_key TEXT NOT NULL REFERENCES product (product_key) ON DELETE CASCADE,
  version TEXT NOT NULL, module TEXT NOT NULL, size BIGINT NOT NULL,
  md5 TEXT NOT NULL, sha256 TEXT NOT NULL, src_versions TEXT NOT NULL,
  created_ms BIGINT NOT NULL);
CREATE INDEX ota_firmware_by_product ON ota_firmware (product_key, created_ms);
CREATE TABLE ota_job (
  job_id TEXT NOT NULL PRIMARY KEY,
  product_key TEXT NOT NULL REFERENCES product (product_key) ON DELETE CASCADE,
  firmware_id TEXT NOT NULL, version TEXT NOT NULL, module TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('running', 'done', 'canceled')),
  rate_per_minute BIGINT NOT NULL, retries BIGINT NOT NULL, timeout_ms BIGINT NOT NULL,
  created_ms BIGINT NOT NULL);
CREATE INDEX ota_job_by_product ON ota_job (product_key, created_ms);
CREATE INDEX ota_job_by_firmware ON ota_job (firmware_id, state);
CREATE TABLE ota_job_device (
  job_id TEXT NOT NULL REFERENCES ota_job (job_id) ON DELETE CASCADE,
  product_key TEXT NOT NULL, device_name TEXT NOT NULL,
  state TEXT NOT NULL
    CHECK (state IN ('waiting', 'inProgress', 'succeeded', 'failed', 'canceled')),
  progress BIGINT NOT NULL, attempts BIGINT NOT NULL, sent_ms BIGINT,
  updated_ms BIGINT NOT NULL,
  PRIMARY KEY (job_id, device_name),
  FOREIGN KEY (product_key, device_name) REFERENCES device ON DELETE CASCADE);
CREATE INDEX ota_job_device_by_device ON ota_job_device (product_key, device_name, state);
CREATE INDEX ota_job_device_by_state ON ota_job_device (job_id, state, device_name);
)sql";

// SQLite thing schema version 4 and PostgreSQL schema version 3: a job's download protocol
// ('https': a signed link; 'mqtt': blocks on thing/file/download).
inline constexpr const char* sqlite_protocol =
    "ALTER TABLE ota_job ADD COLUMN download_protocol TEXT NOT NULL DEFAULT 'https' "
    "CHECK (download_protocol IN ('https', 'mqtt'));";
inline constexpr const char* pg_protocol =
    "ALTER TABLE ota_job ADD COLUMN download_protocol TEXT NOT NULL DEFAULT 'https' "
    "CHECK (download_protocol IN ('https', 'mqtt'));";

// SQLite thing schema version 5 and PostgreSQL schema version 4: when a job starts (its
// scheduleTime; NULL: when it was created). Before then nothing is sent and devices asking are
// told of no upgrade.
inline constexpr const char* sqlite_start = "ALTER TABLE ota_job ADD COLUMN start_ms INTEGER;";
inline constexpr const char* pg_start = "ALTER TABLE ota_job ADD COLUMN start_ms BIGINT;";

// PostgreSQL schema version 5 (a cluster's store; SQLite has no such step): the bytes of each
// firmware in chunks, so that every node serves every firmware whichever node it was uploaded
// to, the secret that signs the download links, one for all the nodes, and the remote
// configuration files (small: a row each). Chunks are written
// before their firmware's row; those of an upload cut short (no row) go after a day.
inline constexpr const char* pg_shared_files = R"sql(
CREATE TABLE ota_firmware_chunk (
  firmware_id TEXT NOT NULL, n INTEGER NOT NULL, data BYTEA NOT NULL, created_ms BIGINT NOT NULL,
  PRIMARY KEY (firmware_id, n));
CREATE TABLE ota_secret (name TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE config_file (
  config_id TEXT NOT NULL PRIMARY KEY,
  product_key TEXT NOT NULL REFERENCES product (product_key) ON DELETE CASCADE,
  size BIGINT NOT NULL, md5 TEXT NOT NULL, sha256 TEXT NOT NULL, created_ms BIGINT NOT NULL,
  data BYTEA NOT NULL);
CREATE INDEX config_file_by_product ON config_file (product_key, created_ms);
)sql";

// ---- firmware -------------------------------------------------------------------------------
#define TP_FW_COLUMNS                                                                              \
  "firmware_id, product_key, version, module, size, md5, sha256, src_versions, created_ms"
inline constexpr const char* insert_firmware =
    "INSERT INTO ota_firmware (" TP_FW_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
inline constexpr const char* firmware =
    "SELECT " TP_FW_COLUMNS " FROM ota_firmware WHERE product_key = ?1 AND firmware_id = ?2";
inline constexpr const char* firmwares =
    "SELECT " TP_FW_COLUMNS " FROM ota_firmware WHERE product_key = ?1 "
    "ORDER BY created_ms DESC, firmware_id LIMIT 1000";
inline constexpr const char* firmware_in_use =
    "SELECT count(*) FROM ota_job WHERE firmware_id = ?1 AND state = 'running'";
inline constexpr const char* delete_firmware =
    "DELETE FROM ota_firmware WHERE product_key = ?1 AND firmware_id = ?2";

inline constexpr const char* insert_chunk =
    "INSERT INTO ota_firmware_chunk (firmware_id, n, data, created_ms) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (firmware_id, n) DO UPDATE SET data = excluded.data";
inline constexpr const char* chunk =
    "SELECT data FROM ota_firmware_chunk WHERE firmware_id = ?1 AND n = ?2";
inline constexpr const char* delete_chunks =
    "DELETE FROM ota_firmware_chunk WHERE firmware_id = ?1";
inline constexpr const char* delete_orphan_chunks =
    "DELETE FROM ota_firmware_chunk c WHERE c.created_ms < ?1 AND NOT EXISTS "
    "(SELECT 1 FROM ota_firmware f WHERE f.firmware_id = c.firmware_id)";
inline constexpr const char* propose_secret =
    "INSERT INTO ota_secret (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING";
inline constexpr const char* secret = "SELECT value FROM ota_secret WHERE name = ?1";
#define TP_CONFIG_COLUMNS "config_id, product_key, size, md5, sha256, created_ms"
inline constexpr const char* insert_config =
    "INSERT INTO config_file (" TP_CONFIG_COLUMNS ", data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
inline constexpr const char* configs_of =
    "SELECT " TP_CONFIG_COLUMNS " FROM config_file WHERE product_key = ?1 "
    "ORDER BY created_ms, config_id";
inline constexpr const char* all_configs =
    "SELECT " TP_CONFIG_COLUMNS " FROM config_file ORDER BY product_key, created_ms, config_id";
inline constexpr const char* config_bytes = "SELECT data FROM config_file WHERE config_id = ?1";
inline constexpr const char* delete_config =
    "DELETE FROM config_file WHERE product_key = ?1 AND config_id = ?2";

// ---- jobs -----------------------------------------------------------------------------------
#define TP_JOB_COLUMNS                                                                             \
  "job_id, product_key, firmware_id, version, module, state, rate_per_minute, retries, "           \
  "timeout_ms, created_ms, download_protocol, start_ms"
inline constexpr const char* insert_job =
    "INSERT INTO ota_job (" TP_JOB_COLUMNS
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
inline constexpr const char* insert_job_device =
    "INSERT INTO ota_job_device (job_id, product_key, device_name, state, progress, attempts, "
    "updated_ms) VALUES (?1, ?2, ?3, 'waiting', 0, 0, ?4)";
inline constexpr const char* job =
    "SELECT " TP_JOB_COLUMNS " FROM ota_job WHERE product_key = ?1 AND job_id = ?2";
inline constexpr const char* jobs = "SELECT " TP_JOB_COLUMNS " FROM ota_job WHERE product_key = ?1 "
                                    "ORDER BY created_ms DESC, job_id LIMIT 1000";
inline constexpr const char* running_jobs =
    "SELECT " TP_JOB_COLUMNS " FROM ota_job WHERE state = 'running' ORDER BY created_ms, job_id";
inline constexpr const char* counts =
    "SELECT state, count(*) FROM ota_job_device WHERE job_id = ?1 GROUP BY state";
#define TP_JD_COLUMNS "job_id, device_name, state, progress, attempts, sent_ms, updated_ms"
inline constexpr const char* devices =
    "SELECT " TP_JD_COLUMNS " FROM ota_job_device WHERE job_id = ?1 AND device_name > ?2 "
    "ORDER BY device_name LIMIT ?3";
inline constexpr const char* devices_in =
    "SELECT " TP_JD_COLUMNS " FROM ota_job_device WHERE job_id = ?1 AND state = ?4 "
    "AND device_name > ?2 ORDER BY device_name LIMIT ?3";
inline constexpr const char* open_job_of =
    "SELECT j.job_id, j.product_key, j.firmware_id, j.version, j.module, j.state, "
    "j.rate_per_minute, j.retries, j.timeout_ms, j.created_ms, j.download_protocol, j.start_ms, "
    "d.job_id, "
    "d.device_name, d.state, "
    "d.progress, d.attempts, d.sent_ms, d.updated_ms FROM ota_job_device d "
    "JOIN ota_job j ON j.job_id = d.job_id WHERE d.product_key = ?1 AND d.device_name = ?2 "
    "AND d.state IN ('waiting', 'inProgress') AND j.state = 'running' "
    "AND (j.start_ms IS NULL OR j.start_ms <= ?3) ORDER BY j.created_ms DESC, j.job_id LIMIT 1";
inline constexpr const char* mark_sent =
    "UPDATE ota_job_device SET state = 'inProgress', attempts = attempts + 1, progress = 0, "
    "sent_ms = ?3, updated_ms = ?3 WHERE job_id = ?1 AND device_name = ?2 AND state = 'waiting'";
inline constexpr const char* set_progress =
    "UPDATE ota_job_device SET progress = ?3, updated_ms = ?4 "
    "WHERE job_id = ?1 AND device_name = ?2 AND state = 'inProgress'";
inline constexpr const char* fail =
    "UPDATE ota_job_device SET state = CASE WHEN attempts <= ?4 THEN 'waiting' ELSE 'failed' END, "
    "progress = ?3, updated_ms = ?5 "
    "WHERE job_id = ?1 AND device_name = ?2 AND state = 'inProgress' RETURNING state";
inline constexpr const char* succeed =
    "UPDATE ota_job_device SET state = 'succeeded', progress = 100, updated_ms = ?3 "
    "WHERE job_id = ?1 AND device_name = ?2 AND state IN ('waiting', 'inProgress')";
inline constexpr const char* overdue =
    "SELECT device_name FROM ota_job_device WHERE job_id = ?1 AND state = 'inProgress' "
    "AND sent_ms < ?2 ORDER BY device_name LIMIT 1000";
inline constexpr const char* cancel_job = "UPDATE ota_job SET state = 'canceled' "
                                          "WHERE product_key = ?1 AND job_id = ?2 "
                                          "AND state = 'running'";
inline constexpr const char* cancel_devices =
    "UPDATE ota_job_device SET state = 'canceled', updated_ms = ?2 "
    "WHERE job_id = ?1 AND state IN ('waiting', 'inProgress')";
inline constexpr const char* finish_if_done =
    "UPDATE ota_job SET state = 'done' WHERE job_id = ?1 AND state = 'running' AND NOT EXISTS "
    "(SELECT 1 FROM ota_job_device WHERE job_id = ?1 AND state IN ('waiting', 'inProgress'))";

} // namespace thingport::store::ota_sql
