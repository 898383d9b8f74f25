// This node's link to the others over NATS (docs/cluster.md): the broker's bridge.
//
// - Messages accepted here go out on subjects mapped from their topics (subject.hpp), with
//   headers for the origin, a sequence, QoS and retain; one NATS connection, published in order
//   from one thread (the link's), so each publisher's order holds across nodes.
// - The node subscribes only to the subjects of filters its own sessions hold (reference-
//   counted); what arrives is routed to local subscribers only (broker::publish_remote).
// - Heartbeats every second (membership.hpp); takeover and registry announcements.
// - While NATS is unreachable, ready() is false (new logins get CONNACK 3); libnats reconnects.
// - drain(): ready() false for good (this node is leaving), its links closed at a bounded rate.
//
// Threads: the bridge members and announce_change() are called on any thread and only queue
// (bounded: messages past max_queued are dropped and counted); the link thread publishes; the
// NATS library's delivery thread (one, for all subscriptions: wire order) handles what comes in.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "broker/bridge.hpp"
#include "cluster/membership.hpp"
#include "cluster/pacer.hpp"

namespace thingport::broker {
class broker;
}

namespace thingport::cluster {

class failover;

struct node_load {
  std::uint64_t connections = 0;
  std::uint64_t devices_online = 0;
};

// A change to the device registry, announced to the other nodes: `kind` is "device" (a, b:
// productKey, deviceName), "product" (a: productKey) or "app" (a: appKey).
struct registry_change {
  std::string kind;
  std::string a;
  std::string b;
};

struct node_options {
  std::string servers; // "nats://h1:4222,nats://h2:4222"
  std::string name;    // this node's name (checked by the config: letters, digits, . _ -)
  std::function<node_load()> load;                         // for the heartbeat; any thread
  std::function<void(const registry_change&)> on_registry; // another node's change
  std::size_t max_queued = 100'000;                        // messages waiting for the link thread
  int replicas = 1; // [cluster] replicas: of the JetStream stream of retained messages
};

struct link_stats {
  std::atomic<std::uint64_t> out{0};         // messages published to NATS
  std::atomic<std::uint64_t> in{0};          // messages from NATS routed here
  std::atomic<std::uint64_t> dropped{0};     // not sent: queue full, subject too long, NATS refused
  std::atomic<std::uint64_t> duplicates{0};  // the same message through two subscriptions
  std::atomic<std::uint64_t> unconfirmed{0}; // SUBACKs sent without NATS confirming the interest
  std::atomic<std::uint64_t> retained_loaded{0}; // retained messages read back from JetStream
  std::atomic<std::uint64_t> retained_unkept{0}; // retained messages JetStream did not acknowledge
  std::atomic<std::uint64_t> claims_late{0}; // session claims not answered by every node in time
};

class node final : public broker::bridge {
public:
  node(broker::broker& b, node_options o);
  ~node() override;
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  // Connects (in the background when NATS is not there yet) and starts the link thread.
  // Throws std::runtime_error on a bad server list.
  void start();
  void stop(); // idempotent

  // --- broker::bridge ---
  void published(const broker::message_ptr& m, bool retain) override;
  void interest(std::string_view filter, bool added) override;
  void confirm(std::function<void(bool confirmed)> done) override;
  void claimed(std::string_view key) override;
  void claim_session(std::string_view key, unsigned prefer, std::function<void()> done) override;
  bool ready() const noexcept override {
    return connected_.load(std::memory_order_acquire) && !draining();
  }
  void link_up(const broker::client_identity& who, std::string_view key, std::uint64_t serial,
               const mqtt::will_message* will) override;
  void link_down(std::uint64_t serial) override;

  // Links are recorded through `f` (a dead node's wills and devices); before start() only.
  void track(failover* f) noexcept { failover_ = f; }
  // Where a claim also looks for the session: the store of nodes not running (session_rescue).
  // `done(from)`, on any thread, once a session found there is added here (from: its node) or
  // none was (from empty). Before start() only.
  using rescue_fn = std::function<void(std::string key, unsigned prefer,
                                       std::function<void(std::string from)> done)>;
  void rescue_from(rescue_fn f) { rescue_ = std::move(f); }
  // Offers `keys`, sessions held here whose clients may be on other nodes now: a node where one
  // of them logged in claims it. Any thread.
  void offer(const std::vector<std::string>& keys);

  // NATS reachable now (whether or not this node takes logins).
  bool linked() const noexcept { return connected_.load(std::memory_order_acquire); }
  // `thingport node drain` (docs/cluster.md "Rolling upgrade"): from now on new logins are
  // refused (CONNACK 3) and the links held here are closed, `per_second` of them each second
  // (at least 1), so their clients reconnect to other nodes without a storm. For the rest of this
  // process; false when it is draining already (the rate stays).
  bool drain(unsigned per_second);
  bool draining() const noexcept { return draining_.load(std::memory_order_acquire); }

  void announce(const registry_change& c);
  std::vector<node_status> nodes() const;
  // The peers (not this node) heard within `bound`, whatever they said.
  std::vector<std::string> peers_heard(std::chrono::milliseconds bound) const {
    return members_.heard_within(steady::now(), bound);
  }
  // The nodes up (this one included) once that is known: 0 while NATS is unreachable and for the
  // 1.5 s after each (re)connection, in which every live peer's heartbeat is first heard.
  std::size_t nodes_up_known() const;
  const link_stats& stats() const noexcept { return stats_; }
  const std::string& name() const noexcept { return members_.self(); }

private:
  enum class op : std::uint8_t { publish, subscribe, unsubscribe, control };
  struct item {
    op what;
    std::string subject;
    std::string payload; // control items
    std::uint8_t qos = 0;
    bool retain = false;
    broker::message_ptr message{}; // publish items: the broker's message, shared
  };
  struct impl; // the NATS handles

  void push(item it, bool bounded);
  void run();
  void send(item& it);
  // `leaving`: the last one, sent by stop() (state "left").
  void heartbeat(bool leaving = false);
  static void on_message(void* nc, void* sub, void* msg, void* closure);
  void receive(void* msg);
  void receive_data(void* msg, std::string_view subject);
  void set_connected(bool up, const char* how);
  void close_some(steady::time_point now); // draining: the links due by `now` (link thread)
  // Retained messages in JetStream (docs/cluster.md "Retained messages"): the stream that keeps
  // the last message of each retained subject, made if missing, and read back into this node's
  // retained store after each (re)connection. False when JetStream did not answer (tried again
  // later). On a thread of its own (retained_loop): JetStream may take seconds to answer (a
  // NATS cluster electing its leader), and the link thread's heartbeats must not wait.
  bool sync_retained();
  void retained_loop();
  // A retained message (or clear) of `topic` did not go out: remembered for the next sync.
  void note_unsent_retained(std::string_view topic);
  // After a sync: sends this node's retained message of each topic again (a clear if none).
  void resend_retained(const std::set<std::string, std::less<>>& topics);

  broker::broker& broker_;
  node_options opts_;
  membership members_;
  std::string origin_; // name + '/' + a random incarnation: sequences restart with it
  std::unique_ptr<impl> impl_;
  link_stats stats_;
  failover* failover_ = nullptr;
  std::atomic<bool> connected_{false};
  std::atomic<steady::rep> linked_at_{0}; // steady ticks of the last (re)connection
  std::atomic<bool> closing_{false};      // stop() closes the connection: not "unreachable"
  std::atomic<bool> draining_{false};

  std::mutex links_mu_; // the links held here (for drain): serial -> session key
  std::map<std::uint64_t, std::string> links_;
  unsigned drain_rate_ = 0; // links_mu_

  std::mutex mu_; // the queue and the interest counts
  std::condition_variable cv_;
  std::vector<item> queue_;
  std::vector<std::function<void(bool)>> confirms_; // after the queue's items: one flush each batch
  std::size_t queued_messages_ = 0;
  std::unordered_map<std::string, std::size_t> interest_; // subject -> filters holding it
  bool stopping_ = false;
  bool drain_kick_ = false; // mu_: drain() asks the link thread to start closing now
  bool beat_now_ = false;   // mu_: a peer new to this node was heard: answer with a heartbeat
  std::thread thread_;

  // The link thread's own.
  std::uint64_t seq_ = 0;
  std::optional<pacer> drain_pacer_; // from the first close of a drain
  // The retained thread's own (retained_loop).
  std::thread retained_thread_;
  std::mutex rmu_;
  std::condition_variable rcv_;
  bool rstop_ = false;                       // rmu_
  steady::time_point retained_retry_{};      // the next sync_retained() attempt
  bool retained_warned_ = false;             // JetStream's absence said once
  std::atomic<bool> retained_synced_{false}; // since the last (re)connection; false: sync again
  // Topics a retained message came in for (delivery thread) while sync_retained() reads the
  // stream: the live message is newer than what the stream read gives for them.
  std::mutex fresh_mu_;
  std::atomic<bool> syncing_{false};         // set and cleared under fresh_mu_
  std::set<std::string, std::less<>> fresh_; // fresh_mu_
  // Topics whose retained message could not be sent (NATS unreachable for longer than the NATS
  // client's reconnect buffer holds, or the link's queue full): a sync keeps this node's message
  // over the stream's, and the retained thread sends it again once synced (within 250 ms). At
  // most max_unsent_retained topics of max_unsent_bytes in all (a topic may be 64 KiB);
  // fresh_mu_.
  static constexpr std::size_t max_unsent_retained = 10'000;
  static constexpr std::size_t max_unsent_bytes = 16u << 20;
  std::set<std::string, std::less<>> unsent_retained_;
  std::size_t unsent_bytes_ = 0; // fresh_mu_
  // Sessions moving between nodes (node_sessions.cpp, docs/cluster.md "Sessions move with their
  // clients"). A claim waits for each node that was up when it was sent.
  struct claim_wait {
    std::string key;
    unsigned prefer = 0;                        // the worker of the client that waits
    std::function<void()> done;                 // empty: an offer's claim, nobody waits
    std::set<std::string, std::less<>> waiting; // nodes whose last part has not come
    std::size_t absorbing = 0;                  // parts handed to the broker, not added yet
    steady::time_point deadline{};
    bool open_ended = false; // who is up is not known yet: wait until the deadline
    bool interest = false;   // a session came: confirm its NATS interest before `done`
  };
  void on_claim(std::string_view body);    // delivery thread
  void on_offer(std::string_view body);    // delivery thread
  void offer_restored();                   // start(): the sessions this node restarted with
  void on_handover(std::string_view body); // delivery thread
  void absorbed(std::uint64_t id);         // a worker: a part of claim `id` is added
  // The store answered claim `id`: a session of node `from` added here, or (empty) none.
  void rescued(std::uint64_t id, const std::string& from);
  void finish_claim_if_answered(std::uint64_t id);
  // The link thread: claims past their deadline go on without the nodes that did not answer;
  // returns the next deadline (or `later` when none is sooner).
  steady::time_point expire_claims(steady::time_point now, steady::time_point later);
  void send_takeover(std::string_view key);
  std::string handover_subject_; // where this node's claims are answered
  std::mutex claims_mu_;
  std::map<std::uint64_t, claim_wait> claims_;
  std::uint64_t next_claim_ = 0;
  rescue_fn rescue_;

  // The delivery thread's own: the last sequence seen per origin (dedup).
  std::map<std::string, std::uint64_t, std::less<>> seen_; // looked up by view: no copy per message
};

} // namespace thingport::cluster
