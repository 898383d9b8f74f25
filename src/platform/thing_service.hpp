// The thing layer on the router (docs/thing.md "Wiring"): device PUBLISHes on thing topics come
// in through consume() on the workers, are queued, and one thing thread runs thing::handle() on
// each with the product's thing model and the device's state in the thing store, then carries
// out the actions: store writes, the reply to the device, the forwards for applications, and
// waking whoever waits for a device's answer to a downlink (sync service, RRPC).
//
// It also serves the HTTP API: the cached thing models (model(), set_model()), publishing to a
// device, and the waiters of downlinks (await_reply(), forget()).
//
// Threads: consume() runs on worker threads and only queues (bounded: max_queue messages; a
// message over it is dropped and counted). The thing thread owns the handling; store I/O for
// device messages happens there and nowhere on a worker. One queue and one thread keep every
// device's messages in the order its connection sent them. Every other member may be called
// from any thread. Lock order: queue_mu_, models_mu_ and waiters_mu_ are never held together.
#pragma once

#include "broker/log_limiter.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "platform/core.hpp"
#include "platform/topology.hpp"
#include "store/identity_store.hpp"
#include "store/thing_store.hpp"
#include "thing/handler.hpp"
#include "thing/tsl.hpp"

namespace thingport::platform {

struct thing_service_options {
  std::size_t max_queue = 100'000;
  thing::handler_options handler{};
  // How often the thing thread applies the retention's age limits (thing_store::prune);
  // zero: never (the store still trims each property and event as it is written).
  std::chrono::milliseconds prune_interval{0};
  // Sub-device sessions through gateways (combine/login): a gateway's messages on the topics of
  // a sub-device logged in through it are that sub-device's. Null: combine requests answer 500.
  sub_sessions* subs = nullptr;
  // Found sub-devices and the gateways' login bound; null: thing.list.found answers 500.
  gateway_state* gateways = nullptr;
};

// A device's answer to a downlink (thing/service/{id}_reply, property/set_reply, RRPC).
struct downlink_reply {
  int code = 200;
  std::string reply{}; // Alink: the reply's data as JSON text; RRPC: the raw payload
};

class thing_service final : public publish_consumer {
public:
  thing_service(broker::broker& b, store::identity_store& identities, store::thing_store& things,
                thing_service_options o = {});
  ~thing_service() override; // stop()
  thing_service(const thing_service&) = delete;
  thing_service& operator=(const thing_service&) = delete;

  void start();
  // Handles what is queued, then joins the thread. Idempotent. Before the broker is destroyed.
  void stop();

  // The thing topics a device publishes on (a thing::topic_kind); 0 for everything else.
  std::uint8_t classify(const client_identity& who, std::string_view topic) const override;
  void consume(const std::shared_ptr<const client_identity>& who, const message_ptr& m) override;

  store::thing_store& store() noexcept { return things_; }

  // The product's thing model, nullptr when it has none (or the stored one no longer parses:
  // logged). Loaded from the identity store on first use and cached.
  std::shared_ptr<const thing::thing_model> model(std::string_view pk);
  // PUT .../tsl stored `m` for `pk`: used for every message from now on.
  void set_model(std::string_view pk, std::shared_ptr<const thing::thing_model> m);
  // Another node stored a new thing model for `pk`: read it again on next use.
  void forget_model(std::string_view pk);

  // Publishes to device pk/dn (a downlink, a reply, the shadow's control message): routed on
  // the worker that holds the device's session, so it reaches the device in one trip.
  void send(std::string_view pk, std::string_view dn, std::string_view topic,
            std::string_view payload, std::uint8_t qos);

  using waiter = std::function<void(const downlink_reply&)>;
  // `w` is called once, on the thing thread, when the device answers downlink `id` (after the
  // answer is recorded in the store). Must not block.
  void await_reply(std::string_view pk, std::string_view dn, std::string_view id, waiter w);
  // Stops waiting for `id`: true when the waiter was still there (it will not be called).
  bool forget(std::string_view pk, std::string_view dn, std::string_view id);

  std::uint64_t handled() const noexcept { return handled_.load(std::memory_order_relaxed); }
  std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  std::uint64_t store_failures() const noexcept {
    return store_failures_.load(std::memory_order_relaxed);
  }
  // Posts refused for a bound of the store ([thing] max_properties).
  std::uint64_t properties_refused() const noexcept {
    return properties_refused_.load(std::memory_order_relaxed);
  }

private:
  struct item {
    std::shared_ptr<const client_identity> who;
    message_ptr msg;
  };
  template <class V>
  using string_map = std::map<std::string, V, std::less<>>; // few entries; string_view lookups

  // Telemetry-only messages (one property or event write, then replies and forwards) of a
  // batch, written in one transaction (thing_store::write) before their replies go out.
  struct group {
    std::vector<store::thing_write> writes;
    std::vector<thing::handler_result> results;
    std::vector<const item*> items;
  };

  void run();
  void handle(const item& it, group& g);
  // thing.event.property.pack.post: a gateway's own values and its logged-in sub-devices'.
  void handle_pack(const item& it, std::string_view gpk, std::string_view gdn);
  void commit(group& g);
  // Carries out one action; false when a store write failed (the failure reply applies).
  bool carry_out(std::string_view pk, std::string_view dn, std::uint8_t qos, const thing::action& a,
                 store::timestamp now);
  // Publishes a forward for applications (routed on any worker).
  void forward(std::string_view topic, std::string_view payload);
  void wake(std::string_view pk, std::string_view dn, std::string_view id, downlink_reply r);

  broker::broker& broker_;
  store::identity_store& identities_;
  store::thing_store& things_;
  thing_service_options opts_;

  mutable std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<item> queue_;
  bool stop_ = false;
  std::thread thread_;

  std::mutex models_mu_;
  string_map<std::shared_ptr<const thing::thing_model>> models_; // null: the product has none

  std::mutex waiters_mu_;
  string_map<waiter> waiters_; // "pk/dn/id"

  std::atomic<std::uint64_t> handled_{0}, dropped_{0}, store_failures_{0};
  std::atomic<std::uint64_t> properties_refused_{0};
  broker::log_limiter refused_log_{10};
};

} // namespace thingport::platform
