// Private to broker/: a reader-writer lock that lets a waiting writer in ahead of new readers.
//
// libstdc++'s std::shared_mutex is a default glibc rwlock, which prefers readers: a thread that
// wants it exclusively waits until no reader holds it at all. When every worker matches topics
// on every PUBLISH, such moments become rare and SUBSCRIBE stalls (bench_topic measured one
// subscribe+unsubscribe at ~0.6 us alone and ~30 us beside a single matching thread). Here new
// readers queue behind a waiting writer, so a writer waits for the matches in progress only.
// Readers still never block readers otherwise. Not recursive: a thread holding it shared must
// not take it shared again (a writer queued in between would deadlock them both).
#pragma once

#include <pthread.h>

#include <cassert>

namespace thingport::broker::detail {

class rw_lock {
public:
  rw_lock() noexcept {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
#ifdef __GLIBC__
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    [[maybe_unused]] const int rc = pthread_rwlock_init(&lock_, &attr);
    assert(rc == 0);
    pthread_rwlockattr_destroy(&attr);
  }
  ~rw_lock() {
    pthread_rwlock_destroy(&lock_);
  }
  rw_lock(const rw_lock&) = delete;
  rw_lock& operator=(const rw_lock&) = delete;

  // Lockable and SharedLockable, for std::unique_lock and std::shared_lock.
  void lock() noexcept {
    pthread_rwlock_wrlock(&lock_);
  }
  bool try_lock() noexcept {
    return pthread_rwlock_trywrlock(&lock_) == 0;
  }
  void unlock() noexcept {
    pthread_rwlock_unlock(&lock_);
  }
  void lock_shared() noexcept {
    pthread_rwlock_rdlock(&lock_);
  }
  bool try_lock_shared() noexcept {
    return pthread_rwlock_tryrdlock(&lock_) == 0;
  }
  void unlock_shared() noexcept {
    pthread_rwlock_unlock(&lock_);
  }

private:
  pthread_rwlock_t lock_;
};

} // namespace thingport::broker::detail
