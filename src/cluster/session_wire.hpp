// The messages of a session moving between nodes (docs/cluster.md "Sessions move with their
// clients"), as JSON on NATS. Pure functions; the decoders take anything (a peer's bytes are
// checked like a client's: fuzz_session_wire).
//
// A claim, on `thingport.claim` from the node a client logs in to:
//   {"id":7,"node":"b","key":"d|pk/dn","reply":"thingport.handover.b.1f2e","clean":false}
// Each other node answers a claim that is not `clean` on `reply`, in one or more parts, the last
// with "last":true; "present" says whether it had a persistent session (and then the session's
// subscriptions and its unacknowledged messages, payloads in base64, follow in its parts):
//   {"id":7,"node":"a","key":"d|pk/dn","last":true,"present":true,
//    "subs":[["t/#",1]],"msgs":[["t/1","aGk=",1,false]]}
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/session_snapshot.hpp"

namespace thingport::cluster {

inline constexpr std::size_t max_wire_string = 65535;    // a key, node, topic, filter or reply
inline constexpr std::size_t max_wire_entries = 100'000; // subscriptions or messages per part

struct claim_request {
  std::uint64_t id = 0;
  std::string node;
  std::string key;
  std::string reply;
  bool clean = false; // the client asked for a clean session: the others delete theirs
};

struct handover_part {
  std::uint64_t id = 0;
  std::string node;
  std::string key;
  bool last = true;
  bool present = false;             // the sender had a persistent session for `key`
  broker::session_snapshot session; // this part's share of it (session.key == key)
};

// Sessions a node restarted with (from its store), offered on `thingport.offer`: a node that
// holds a session of one of those keys (its client logged in there meanwhile) claims it, so
// that what was queued before the restart reaches it.
//   {"node":"a","keys":["d|pk/dn","c1"]}
struct session_offer {
  std::string node;
  std::vector<std::string> keys;
};

std::string encode_claim(const claim_request& c);
std::optional<claim_request> decode_claim(std::string_view body);

// The answer to claim `id`: `s` (null: no session) split in parts whose subscriptions and
// payloads take about `part_bytes` each (one message larger than that has a part of its own).
std::vector<std::string> encode_handover(std::uint64_t id, std::string_view node,
                                         std::string_view key, const broker::session_snapshot* s,
                                         std::size_t part_bytes);
std::optional<handover_part> decode_handover(std::string_view body);

// `keys` in offers of at most about `max_bytes` each (a key longer than that has one of its own).
std::vector<std::string> encode_offers(std::string_view node, const std::vector<std::string>& keys,
                                       std::size_t max_bytes);
std::optional<session_offer> decode_offer(std::string_view body);

} // namespace thingport::cluster
