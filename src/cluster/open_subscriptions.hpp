// Internal to cluster/ (node.cpp).
#pragma once

#include <nats/nats.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace thingport::cluster {

// The subscriptions the library's delivery thread has not finished with. Closing a
// subscription queues a message to that thread, which the library frees only by handling it;
// shutting the library down before it is handled leaves it allocated. stop() waits for every
// subscription's completion callback (the delivery thread's last act for it) first. One per
// process (one node), never destroyed: a late callback finds it still there.
struct open_subscriptions {
  std::mutex mu;
  std::condition_variable cv;
  std::size_t open = 0;

  static open_subscriptions& get() {
    static auto* all = new open_subscriptions; // NOLINT: outlives every callback
    return *all;
  }
  // Counts `sub` until the library completes it (not counted when it cannot tell).
  void watch(natsSubscription* sub) {
    std::lock_guard lock(mu);
    const auto done = [](void* c) {
      auto& self = *static_cast<open_subscriptions*>(c);
      std::lock_guard l(self.mu);
      --self.open;
      self.cv.notify_all();
    };
    if (natsSubscription_SetOnCompleteCB(sub, done, this) == NATS_OK)
      ++open;
  }
  // Waits until none is open; the number still open after `within`.
  std::size_t wait(std::chrono::milliseconds within) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, within, [this] { return open == 0; });
    return open;
  }
};

} // namespace thingport::cluster
