// What each node holds, in PostgreSQL (docs/cluster.md "A dead node"): one row per link that
// has a will or is a device's, written when it logs in and deleted when it closes, so that a
// survivor can publish a dead node's wills and set its devices offline; and one row per
// sub-device logged in through a gateway's link held here (cluster_sub), deleted when it logs
// out or the gateway's link closes, so that its sub-devices go offline with it. The tables are
// the cluster's own schema component ("cluster" in thingport_schema).
//
// Threads: none of this is synchronised; the owner (failover) uses it from its one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "store/pg_connection.hpp"
#include "store/result.hpp"

namespace thingport::cluster {

struct link_row {
  std::uint64_t serial = 0; // the connection's serial on its node (with the incarnation: unique)
  std::string key;          // the session key (a device: pk/dn style; else the client id)
  std::string product_key;  // a device's; empty for other clients
  std::string device_name;
  std::optional<std::string> will_topic; // none: no will
  std::string will_payload;
  std::uint8_t will_qos = 0;
  bool will_retain = false;
};

// A sub-device's login through the gateway link `serial` (up), or its logout (down).
struct sub_change {
  std::uint64_t serial = 0; // the gateway's link
  std::string product_key;
  std::string device_name;
  bool up = true;
};

// A sub-device taken from a dead node: `moved` when it is recorded on another node (or
// incarnation), as a device's link or as a sub-device of a gateway there.
struct taken_sub {
  std::string product_key;
  std::string device_name;
  bool moved = false;
};

// A row taken from a dead node (or this node's last incarnation): `moved` when the same key
// has a row of another node (or incarnation), i.e. it logged in again somewhere alive.
struct taken_row {
  link_row row;
  bool moved = false;
};

class link_table {
public:
  // Connects and creates the table when it is not there; throws store::open_error.
  link_table(const store::pg::options& opts, std::string node, std::string incarnation);

  // One transaction: inserts `up`, applies `subs` in order, deletes the rows of this
  // incarnation with serials `down` (and the sub-devices logged in through them).
  std::error_code write(const std::vector<link_row>& up, const std::vector<sub_change>& subs,
                        const std::vector<std::uint64_t>& down);
  // Deletes every row of `node` whose incarnation is not `keep` (empty: all of them) and returns
  // them: one statement, so two survivors racing (or the node itself, restarting) take each row
  // once.
  store::result<std::vector<taken_row>> take(const std::string& node, const std::string& keep);
  // The same for the sub-device rows.
  store::result<std::vector<taken_sub>> take_subs(const std::string& node, const std::string& keep);
  // The nodes that have rows (of either table), but this one.
  store::result<std::vector<std::string>> other_nodes();

private:
  std::unique_ptr<store::pg::connection> db_;
  std::string node_;
  std::string incarnation_;
};

} // namespace thingport::cluster
