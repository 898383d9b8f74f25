// Internal to cluster/: what node.cpp (the link) and node_retained.cpp (retained messages in
// JetStream) share: the NATS handles of a node, the subjects and headers of routed messages.
#pragma once

#include <nats/nats.h>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cluster/node.hpp"

namespace thingport::cluster {

inline constexpr const char* retained_all = "thingport.r.>";
inline constexpr const char* takeover_subject = "thingport.takeover";
// Sessions moving between nodes (node_sessions.cpp): claims, and their answers on the
// claimer's own subject under the prefix.
inline constexpr const char* claim_subject = "thingport.claim";
inline constexpr const char* offer_subject = "thingport.offer";
inline constexpr std::string_view handover_prefix = "thingport.handover.";
inline constexpr auto heartbeat_every = std::chrono::seconds(1);
inline constexpr int retained_wait_ms = 2000; // JetStream's answer, or a stream read's next message

// Headers of a routed message.
inline constexpr const char* h_origin = "Tp-Origin";
inline constexpr const char* h_seq = "Tp-Seq";
inline constexpr const char* h_qos = "Tp-Qos";
inline constexpr const char* h_retain = "Tp-Retain";

inline std::string_view header(natsMsg* m, const char* key) {
  const char* v = nullptr;
  if (natsMsgHeader_Get(m, key, &v) != NATS_OK || v == nullptr)
    return {};
  return v;
}

inline std::uint64_t number(std::string_view s) {
  std::uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

struct node::impl {
  natsOptions* opts = nullptr;
  natsConnection* conn = nullptr;
  jsCtx* js = nullptr; // retained messages are published through it once the stream is there
  std::vector<natsSubscription*> control;                  // heartbeats, takeover, registry, ...
  std::unordered_map<std::string, natsSubscription*> subs; // interest subjects; link thread's

  ~impl() {
    if (js != nullptr)
      jsCtx_Destroy(js);
    for (auto* s : control)
      natsSubscription_Destroy(s);
    for (auto& [subject, s] : subs)
      natsSubscription_Destroy(s);
    if (conn != nullptr)
      natsConnection_Destroy(conn);
    if (opts != nullptr)
      natsOptions_Destroy(opts);
  }
};

} // namespace thingport::cluster
