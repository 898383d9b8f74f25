#include "cluster/link_table.hpp"

#include <iterator>

#include "store/sql_migrate.hpp"

namespace thingport::cluster {

namespace {

// Version 1 of the cluster's schema component. Steps only ever append.
constexpr const char* schema_v1 = R"sql(
CREATE TABLE cluster_link (
  node TEXT NOT NULL, incarnation TEXT NOT NULL, serial BIGINT NOT NULL,
  client_key TEXT NOT NULL, product_key TEXT, device_name TEXT,
  will_topic TEXT, will_payload BYTEA, will_qos BIGINT NOT NULL DEFAULT 0,
  will_retain BIGINT NOT NULL DEFAULT 0, since_ms BIGINT NOT NULL,
  PRIMARY KEY (node, incarnation, serial));
CREATE INDEX cluster_link_by_key ON cluster_link (client_key);
)sql";

// Version 2: sub-devices logged in through gateways' links, and devices looked up by name.
constexpr const char* schema_v2 = R"sql(
CREATE TABLE cluster_sub (
  node TEXT NOT NULL, incarnation TEXT NOT NULL, serial BIGINT NOT NULL,
  product_key TEXT NOT NULL, device_name TEXT NOT NULL, since_ms BIGINT NOT NULL,
  PRIMARY KEY (node, incarnation, product_key, device_name));
CREATE INDEX cluster_sub_by_device ON cluster_sub (product_key, device_name);
CREATE INDEX cluster_sub_by_link ON cluster_sub (node, incarnation, serial);
CREATE INDEX cluster_link_by_device ON cluster_link (product_key, device_name);
)sql";

constexpr store::sql::migration migrations[] = {{1, schema_v1}, {2, schema_v2}};

constexpr const char* insert_sql =
    "INSERT INTO cluster_link (node, incarnation, serial, client_key, product_key, device_name, "
    "will_topic, will_payload, will_qos, will_retain, since_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
    "?7, ?8, ?9, ?10, (extract(epoch FROM clock_timestamp()) * 1000)::bigint) "
    "ON CONFLICT DO NOTHING";
constexpr const char* delete_sql =
    "DELETE FROM cluster_link WHERE node = ?1 AND incarnation = ?2 AND serial = ?3";
// `moved`: the key has a row of another node or incarnation (it logged in again there).
constexpr const char* take_sql =
    "DELETE FROM cluster_link d WHERE d.node = ?1 AND d.incarnation <> ?2 RETURNING d.serial, "
    "d.client_key, d.product_key, d.device_name, d.will_topic, d.will_payload, d.will_qos, "
    "d.will_retain, CASE WHEN EXISTS (SELECT 1 FROM cluster_link o WHERE o.client_key = "
    "d.client_key AND (o.node <> d.node OR o.incarnation <> d.incarnation)) THEN 1 ELSE 0 END";
constexpr const char* sub_up_sql =
    "INSERT INTO cluster_sub (node, incarnation, serial, product_key, device_name, since_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, (extract(epoch FROM clock_timestamp()) * 1000)::bigint) "
    "ON CONFLICT (node, incarnation, product_key, device_name) DO UPDATE SET serial = "
    "excluded.serial, since_ms = excluded.since_ms";
constexpr const char* sub_down_sql =
    "DELETE FROM cluster_sub WHERE node = ?1 AND incarnation = ?2 AND serial = ?3 AND "
    "product_key = ?4 AND device_name = ?5";
constexpr const char* subs_of_link_sql =
    "DELETE FROM cluster_sub WHERE node = ?1 AND incarnation = ?2 AND serial = ?3";
// `moved`: the sub-device is recorded elsewhere, through a gateway or as a device's own link.
constexpr const char* take_subs_sql =
    "DELETE FROM cluster_sub d WHERE d.node = ?1 AND d.incarnation <> ?2 RETURNING "
    "d.product_key, d.device_name, CASE WHEN EXISTS (SELECT 1 FROM cluster_sub o WHERE "
    "o.product_key = d.product_key AND o.device_name = d.device_name AND (o.node <> d.node OR "
    "o.incarnation <> d.incarnation)) OR EXISTS (SELECT 1 FROM cluster_link l WHERE "
    "l.product_key = d.product_key AND l.device_name = d.device_name AND (l.node <> d.node OR "
    "l.incarnation <> d.incarnation)) THEN 1 ELSE 0 END";
constexpr const char* nodes_sql = "SELECT node FROM cluster_link WHERE node <> ?1 UNION "
                                  "SELECT node FROM cluster_sub WHERE node <> ?1";

std::optional<std::string_view> or_null(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<std::string_view>(s);
}

} // namespace

link_table::link_table(const store::pg::options& opts, std::string node, std::string incarnation)
    : db_(std::make_unique<store::pg::connection>(opts)), node_(std::move(node)),
      incarnation_(std::move(incarnation)) {
  // One lock id for every node's cluster migration: "TPcl".
  store::sql::migrate(
      *db_, store::sql::component_migration("PostgreSQL database " + store::pg::redact(opts.url),
                                            "cluster schema", "cluster", 1414554476, migrations));
}

std::error_code link_table::write(const std::vector<link_row>& up,
                                  const std::vector<sub_change>& subs,
                                  const std::vector<std::uint64_t>& down) {
  store::sql::transaction tx(*db_);
  if (auto ec = tx.begin_error())
    return ec;
  if (auto ec = db_->run_batch(insert_sql, up.size(), [&](store::sql::statement& s, std::size_t i) {
        const auto& r = up[i];
        s.bind(1, node_).bind(2, incarnation_).bind(3, static_cast<std::int64_t>(r.serial));
        s.bind(4, r.key).bind(5, or_null(r.product_key)).bind(6, or_null(r.device_name));
        if (r.will_topic) {
          s.bind(7, *r.will_topic).bind_bytes(8, std::string_view(r.will_payload));
        } else {
          s.bind_null(7).bind_null(8);
        }
        s.bind(9, std::int64_t{r.will_qos}).bind(10, r.will_retain);
      }))
    return ec;
  // In order: each run of logins (or of logouts) is one batch.
  for (std::size_t from = 0; from < subs.size();) {
    auto to = from;
    while (to < subs.size() && subs[to].up == subs[from].up)
      ++to;
    if (auto ec = db_->run_batch(subs[from].up ? sub_up_sql : sub_down_sql, to - from,
                                 [&](store::sql::statement& s, std::size_t i) {
                                   const auto& c = subs[from + i];
                                   s.bind(1, node_).bind(2, incarnation_);
                                   s.bind(3, static_cast<std::int64_t>(c.serial));
                                   s.bind(4, c.product_key).bind(5, c.device_name);
                                 }))
      return ec;
    from = to;
  }
  for (const char* sql : {delete_sql, subs_of_link_sql})
    if (auto ec = db_->run_batch(sql, down.size(), [&](store::sql::statement& s, std::size_t i) {
          s.bind(1, node_).bind(2, incarnation_).bind(3, static_cast<std::int64_t>(down[i]));
        }))
      return ec;
  return tx.commit();
}

store::result<std::vector<taken_row>> link_table::take(const std::string& node,
                                                       const std::string& keep) {
  return store::sql::rows<taken_row>(
      *db_, take_sql, [&](store::sql::statement& s) { s.bind(1, node).bind(2, keep); },
      [](const store::sql::statement& s) {
        taken_row t;
        t.row.serial = static_cast<std::uint64_t>(s.int64(0));
        t.row.key = s.text(1);
        t.row.product_key = s.text(2);
        t.row.device_name = s.text(3);
        t.row.will_topic = s.optional_text(4);
        if (t.row.will_topic)
          t.row.will_payload = s.bytes(5);
        t.row.will_qos = static_cast<std::uint8_t>(std::clamp<std::int64_t>(s.int64(6), 0, 2));
        t.row.will_retain = s.int64(7) != 0;
        t.moved = s.int64(8) != 0;
        return t;
      });
}

store::result<std::vector<taken_sub>> link_table::take_subs(const std::string& node,
                                                            const std::string& keep) {
  return store::sql::rows<taken_sub>(
      *db_, take_subs_sql, [&](store::sql::statement& s) { s.bind(1, node).bind(2, keep); },
      [](const store::sql::statement& s) {
        return taken_sub{s.text(0), s.text(1), s.int64(2) != 0};
      });
}

store::result<std::vector<std::string>> link_table::other_nodes() {
  return store::sql::rows<std::string>(
      *db_, nodes_sql, [&](store::sql::statement& s) { s.bind(1, node_); },
      [](const store::sql::statement& s) { return s.text(0); });
}

} // namespace thingport::cluster
