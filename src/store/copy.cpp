#include "store/copy.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

#include "store/pg_store.hpp"
#include "store/sqlite_connection.hpp"
#include "store/thing_sqlite.hpp"

namespace thingport::store {

namespace {

// A table both backends hold, with the columns copied (topic_class's id is not: PostgreSQL
// numbers the rows again, in the same order).
struct table_spec {
  const char* name;
  const char* columns;
  const char* order;
  std::array<int, 2> bytes = {-1, -1}; // columns (0-based) that hold bytes, not text
};

constexpr table_spec tables[] = {
    {"product",
     "product_key, product_secret, name, dynamic_registration, created_ms, thing_model, node_type",
     "product_key"},
    {"topic_class", "product_key, topic, access, created_ms", "id"},
    {"device",
     "product_key, device_name, device_secret, enabled, created_ms, first_online_ms, "
     "last_online_ms, last_offline_ms, last_ip, device_token",
     "product_key, device_name"},
    {"application", "app_key, app_secret, name, enabled, created_ms", "app_key"},
    {"application_product", "app_key, product_key", "app_key, product_key"},
    {"topology", "product_key, device_name, gateway_pk, gateway_dn, created_ms",
     "product_key, device_name"},
    {"thing_property", "product_key, device_name, identifier, value, time_ms",
     "product_key, device_name, identifier"},
    {"thing_series", "product_key, device_name, kind, identifier, next_seq",
     "product_key, device_name, kind, identifier"},
    {"thing_property_history", "product_key, device_name, identifier, seq, time_ms, value",
     "product_key, device_name, identifier, seq"},
    {"thing_event", "product_key, device_name, identifier, seq, time_ms, type, output",
     "product_key, device_name, identifier, seq"},
    {"thing_shadow", "product_key, device_name, document, version, updated_ms",
     "product_key, device_name"},
    {"thing_attribute", "product_key, device_name, attr_key, attr_value, updated_ms",
     "product_key, device_name, attr_key"},
    {"thing_desired", "product_key, device_name, identifier, value, version, updated_ms",
     "product_key, device_name, identifier"},
    {"thing_downlink",
     "product_key, device_name, id, type, identifier, request, sent_ms, outcome, reply_code, "
     "reply, completed_ms",
     "product_key, device_name, id",
     {5, 9}},
    {"thing_firmware", "product_key, device_name, module, version, reported_ms",
     "product_key, device_name, module"},
    // OTA (ota_sql.hpp); the firmware files stay in data/firmware/ of the node that has them.
    {"ota_firmware",
     "firmware_id, product_key, version, module, size, md5, sha256, src_versions, created_ms",
     "firmware_id"},
    {"ota_job",
     "job_id, product_key, firmware_id, version, module, state, rate_per_minute, retries, "
     "timeout_ms, created_ms, download_protocol, start_ms",
     "job_id"},
    {"ota_job_device",
     "job_id, product_key, device_name, state, progress, attempts, sent_ms, updated_ms",
     "job_id, device_name"},
};

// The statements of one table, built once: their texts are the connections' cache keys and
// must stay put.
struct table_sql {
  std::string select, insert, count;
  int columns = 0;
};

const std::vector<table_sql>& statements() {
  static const std::vector<table_sql> all = [] {
    std::vector<table_sql> out;
    for (const table_spec& t : tables) {
      table_sql s;
      const std::string cols = t.columns;
      s.columns = 1;
      for (char ch : cols) {
        s.columns += ch == ',' ? 1 : 0;
      }
      s.select = "SELECT " + cols + " FROM " + t.name + " ORDER BY " + t.order;
      std::string params;
      for (int i = 1; i <= s.columns; ++i) {
        params += (i > 1 ? ", ?" : "?") + std::to_string(i);
      }
      s.insert = "INSERT INTO " + std::string(t.name) + " (" + cols + ") VALUES (" + params + ")";
      s.count = "SELECT count(*) FROM " + std::string(t.name);
      out.push_back(std::move(s));
    }
    return out;
  }();
  return all;
}

std::vector<table_count> count_tables(sql::connection& db, const std::string& where) {
  std::vector<table_count> out;
  const auto& sql = statements();
  for (std::size_t i = 0; i < sql.size(); ++i) {
    auto n = sql::returning(db, sql[i].count.c_str(), [](sql::statement&) {});
    if (!n) {
      throw open_error(where + ": cannot count " + tables[i].name + " (" + db.last_message() + ")");
    }
    out.push_back({tables[i].name, static_cast<std::uint64_t>(*n)});
  }
  return out;
}

// The source file, with the thing tables created when it predates them; never a new file.
std::unique_ptr<sqlite::connection> open_source(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    throw open_error("identity database " + file.string() + " does not exist");
  }
  { sqlite_thing_store migrate(file); }
  return std::make_unique<sqlite::connection>(file, std::chrono::milliseconds(5000));
}

} // namespace

std::vector<table_count> count_sqlite_tables(const std::filesystem::path& identity_db) {
  auto db = open_source(identity_db);
  return count_tables(*db, identity_db.string());
}

std::vector<table_count> count_pg_tables(const pg::options& opts) {
  pg::connection db(opts);
  return count_tables(db, pg::redact(opts.url));
}

void copy_sqlite_to_pg(const std::filesystem::path& identity_db, const pg::options& to,
                       const std::function<void(const std::string&, std::uint64_t)>& progress) {
  auto from = open_source(identity_db);
  pg_migrate(to);
  pg::connection db(to);
  const std::string target = pg::redact(to.url);
  for (const auto& t : count_tables(db, target)) {
    if (t.rows != 0) {
      throw open_error("PostgreSQL database " + target + " is not empty (" + t.table + " has " +
                       std::to_string(t.rows) + " rows): copy into a new database");
    }
  }
  // Both sides in one transaction: a consistent snapshot read, all or nothing written.
  sql::transaction read(*from, sql::transaction::kind::read);
  sql::transaction write(db);
  if (read.begin_error() || write.begin_error()) {
    throw open_error("cannot start the copy (" + db.last_message() + ")");
  }
  const auto& sql = statements();
  for (std::size_t i = 0; i < sql.size(); ++i) {
    auto rows = from->prepare(sql[i].select.c_str());
    if (!rows) {
      throw open_error(identity_db.string() + ": cannot read " + tables[i].name);
    }
    std::uint64_t n = 0;
    auto ec = sql::for_each_row(*rows, [&](sql::statement& row) -> std::error_code {
      return sql::run(db, sql[i].insert.c_str(), [&](sql::statement& ins) {
        for (int c = 0; c < sql[i].columns; ++c) {
          const auto& bytes = tables[i].bytes;
          if (row.is_null(c)) {
            ins.bind_null(c + 1);
          } else if (std::find(bytes.begin(), bytes.end(), c) != bytes.end()) {
            ins.bind_bytes(c + 1, row.bytes(c));
          } else {
            ins.bind(c + 1, row.text(c));
          }
        }
        if (++n % 10'000 == 0) {
          progress(tables[i].name, n);
        }
      });
    });
    if (ec) {
      throw std::runtime_error(std::string("copying ") + tables[i].name + " failed after " +
                               std::to_string(n) + " rows: " + ec.message() + " (" +
                               db.last_message() + "); nothing was kept");
    }
    progress(tables[i].name, n);
  }
  if (auto ec = write.commit()) {
    throw std::runtime_error("the copy's commit failed: " + ec.message() + " (" +
                             db.last_message() + "); nothing was kept");
  }
}

} // namespace thingport::store
