// Sessions moving with their clients between nodes (docs/cluster.md "Sessions move with their
// clients"): a client that logs in here with cleanSession=0 has its session brought from the
// node that held it before its CONNACK; one that logs in with cleanSession=1 has it deleted there.
// A node that starts with sessions in its store offers them: a node whose client of one of those
// keys logged in there meanwhile claims it.
//
// The node the client logs in to sends a claim on `thingport.claim`; every other node closes its
// link of that key and answers on the claimer's handover subject with the session it held (or
// none), taken off that node; the claimer adds each to its own (broker::absorb_session) and lets
// the CONNACK go once every node that was up has answered, or after claim_wait.
#include <algorithm>
#include <chrono>
#include <memory>
#include <spdlog/spdlog.h>
#include <string>

#include "broker/broker.hpp"
#include "cluster/nats_link.hpp"
#include "cluster/session_wire.hpp"

namespace thingport::cluster {

namespace {
constexpr auto claim_wait_for = std::chrono::milliseconds(500);
constexpr auto answer_from = std::chrono::milliseconds(1500); // peers heard within: waited for
// Subscriptions and payloads per part: with base64 and JSON a part stays well under NATS's
// default max_payload (1 MiB), a message of [limits] max_payload (256 KiB) included.
constexpr std::size_t part_bytes = 256 * 1024;
// Keys per offer: under the 64 KiB of a control message even with every byte escaped in JSON.
constexpr std::size_t offer_bytes = 8 * 1024;
// What a claim waits for besides the nodes: the store of nodes not running (not a node's name:
// those are letters, digits, '.', '_' and '-').
constexpr const char* store_peer = "(store)";
} // namespace

void node::send_takeover(std::string_view key) {
  push({op::control, takeover_subject, std::string(key), 0, false}, false);
}

void node::claimed(std::string_view key) {
  // Nodes of this version delete their session of the key (the client asked for a clean one);
  // older ones close its link on the takeover.
  push({op::control, claim_subject,
        encode_claim({0, name(), std::string(key), handover_subject_, true}), 0, false},
       false);
  send_takeover(key);
}

void node::claim_session(std::string_view key, unsigned prefer, std::function<void()> done) {
  // The nodes that are to answer: every peer heard in the last 1.5 heartbeats (one silent for
  // longer is likely dead, and a session it sends later is still added; one that comes up later
  // had no link of this key to give).
  std::set<std::string, std::less<>> peers;
  for (auto& n : members_.heard_within(steady::now(), answer_from))
    peers.insert(std::move(n));
  if (rescue_)
    peers.insert(store_peer);
  // Just (re)connected: peers not heard yet may hold the session; wait the whole bound.
  const steady::time_point linked_at{steady::duration(linked_at_.load(std::memory_order_acquire))};
  const bool open_ended = steady::now() - linked_at < heartbeat_every * 3 / 2;
  const bool wait = !peers.empty() || open_ended;
  std::uint64_t id = 0;
  {
    std::lock_guard lock(claims_mu_);
    id = ++next_claim_;
    if (wait)
      claims_.emplace(id, claim_wait{std::string(key), prefer, done, std::move(peers), 0,
                                     steady::now() + claim_wait_for, open_ended});
  }
  push({op::control, claim_subject,
        encode_claim({id, name(), std::string(key), handover_subject_, false}), 0, false},
       false);
  if (rescue_)
    rescue_(std::string(key), prefer, [this, id](std::string from) { rescued(id, from); });
  if (!wait && done) {
    done();
    send_takeover(key);
  }
}

void node::offer_restored() {
  const auto keys = broker_.session_keys();
  if (keys.empty())
    return;
  spdlog::info("cluster: offering the {} sessions restored here to the nodes their clients may be "
               "on now",
               keys.size());
  offer(keys);
}

void node::offer(const std::vector<std::string>& keys) {
  for (auto& body : encode_offers(name(), keys, offer_bytes))
    push({op::control, offer_subject, std::move(body), 0, false}, false);
}

void node::on_offer(std::string_view body) {
  auto o = decode_offer(body);
  if (!o || o->node == name())
    return;
  // A session of one of those keys here: its client logged in here while that node was away.
  // Claimed without a client waiting: what that node held is added to it.
  for (const auto& key : o->keys)
    if (broker_.find_session(key) != 0)
      claim_session(key, static_cast<unsigned>(std::hash<std::string>{}(key)), nullptr);
}

void node::on_claim(std::string_view body) {
  auto c = decode_claim(body);
  if (!c || c->node == name() || !c->reply.starts_with(handover_prefix))
    return;
  if (c->clean) {
    broker_.disconnect(c->key, broker::close_reason::taken_over_elsewhere, true);
    return;
  }
  broker_.surrender_session(
      c->key, broker::close_reason::taken_over_elsewhere,
      [this, id = c->id, reply = std::move(c->reply),
       key = c->key](std::shared_ptr<broker::session_snapshot> s) {
        if (s)
          spdlog::debug("cluster: session {} moves to the node it logged in to ({} "
                        "subscriptions, {} messages)",
                        key, s->subscriptions.size(), s->messages.size());
        for (auto& part : encode_handover(id, name(), key, s.get(), part_bytes))
          push({op::control, reply, std::move(part), 0, false}, false);
      });
}

void node::on_handover(std::string_view body) {
  auto p = decode_handover(body);
  if (!p)
    return;
  bool tracked = false;
  unsigned prefer = static_cast<unsigned>(std::hash<std::string>{}(p->key));
  {
    std::lock_guard lock(claims_mu_);
    if (auto it = claims_.find(p->id); it != claims_.end() && it->second.key == p->key) {
      tracked = true;
      prefer = it->second.prefer;
      if (p->present) {
        ++it->second.absorbing;
        it->second.interest = true;
      }
      if (p->last)
        it->second.waiting.erase(p->node);
    }
  }
  if (p->present) {
    // A part of a claim already let go (late) is still added: to the session its client has now.
    auto s = std::make_shared<const broker::session_snapshot>(std::move(p->session));
    std::function<void(bool)> then;
    if (tracked)
      then = [this, id = p->id](bool) { absorbed(id); };
    broker_.absorb_session(std::move(s), prefer, std::move(then));
  }
  if (tracked)
    finish_claim_if_answered(p->id);
}

void node::rescued(std::uint64_t id, const std::string& from) {
  {
    std::lock_guard lock(claims_mu_);
    auto it = claims_.find(id);
    if (it == claims_.end())
      return;
    it->second.waiting.erase(store_peer);
    if (!from.empty()) {
      // That node is not running (its lock was free): no answer is coming from it.
      it->second.waiting.erase(from);
      it->second.interest = true;
    }
  }
  finish_claim_if_answered(id);
}

void node::absorbed(std::uint64_t id) {
  {
    std::lock_guard lock(claims_mu_);
    if (auto it = claims_.find(id); it != claims_.end() && it->second.absorbing > 0)
      --it->second.absorbing;
  }
  finish_claim_if_answered(id);
}

void node::finish_claim_if_answered(std::uint64_t id) {
  claim_wait done;
  {
    std::lock_guard lock(claims_mu_);
    auto it = claims_.find(id);
    if (it == claims_.end() || !it->second.waiting.empty() || it->second.absorbing != 0 ||
        it->second.open_ended)
      return;
    done = std::move(it->second);
    claims_.erase(it);
  }
  if (!done.done) // an offer's claim: nobody waits
    return;
  send_takeover(done.key);
  if (!done.interest)
    return done.done();
  // Its subscriptions may be new to this node: the CONNACK waits until NATS has them (as a
  // SUBACK does), so that what is published anywhere after it reaches the client.
  confirm([go = std::move(done.done)](bool) { go(); });
}

steady::time_point node::expire_claims(steady::time_point now, steady::time_point later) {
  std::vector<claim_wait> due;
  {
    std::lock_guard lock(claims_mu_);
    for (auto it = claims_.begin(); it != claims_.end();) {
      if (it->second.deadline <= now) {
        due.push_back(std::move(it->second));
        it = claims_.erase(it);
        continue;
      }
      later = std::min(later, it->second.deadline);
      ++it;
    }
  }
  for (auto& c : due) {
    const auto n = stats_.claims_late.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n == 1 || n % 1000 == 0)
      spdlog::warn("cluster: session {}: {} node(s) did not answer its claim within {} ms ({} so "
                   "far); its client goes on, and a session they send later is still added",
                   c.key, c.waiting.size(), claim_wait_for.count(), n);
    if (!c.done)
      continue;
    c.done();
    send_takeover(c.key);
  }
  return later;
}

} // namespace thingport::cluster
