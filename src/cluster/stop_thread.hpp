// Stopping the cluster layer's background threads (node's link thread, failover's writer): each
// waits on a condition variable until its `stopping` flag, kept under the same mutex, is set.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

namespace thingport::cluster {

// Sets `stopping` under `mu`, wakes the thread waiting on `cv` and joins `t` (when it runs).
// False when it was stopping already, so that stop() stays idempotent.
inline bool stop_thread(std::mutex& mu, std::condition_variable& cv, bool& stopping,
                        std::thread& t) {
  {
    std::lock_guard lock(mu);
    if (stopping)
      return false;
    stopping = true;
  }
  cv.notify_all();
  if (t.joinable())
    t.join();
  return true;
}

} // namespace thingport::cluster
