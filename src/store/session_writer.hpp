// The one thread that writes the session store, with group commit: workers submit batches of
// operations (with a completion) from their own threads; the writer takes everything submitted
// since its last commit, applies it in one transaction, then runs the completions in
// submission order. While one commit syncs to disk the next batch gathers, so the batch grows
// with the load and the disk sees one sync per batch, not one per message; what the batch puts
// and deletes again never reaches the store (session_coalesce.hpp).
//
// Threads: submit() from any thread (one short mutex hold to append); completions run on the
// writer thread and must not block (the broker's post back to the owning worker).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "store/session_store.hpp"

namespace thingport::store {

struct session_writer_stats {
  std::atomic<std::uint64_t> commits{0};
  std::atomic<std::uint64_t> ops{0};        // submitted
  std::atomic<std::uint64_t> cancelled{0};  // of them, not applied: put and deleted in one batch
  std::atomic<std::uint64_t> max_batch{0};  // most operations in one commit
  std::atomic<std::uint64_t> failures{0};   // commits that failed (nothing of them was written)
  std::atomic<bool> failing{false};         // the last commit failed (a full or read-only disk)
  std::atomic<std::uint64_t> used_bytes{0}; // session_store::used_bytes() after the last commit
  std::atomic<std::uint64_t> backlog{0};    // operations submitted and not yet committed
};

class session_writer {
public:
  // `done` learns whether the commit that covered the operations succeeded.
  using done_fn = std::function<void(std::error_code)>;

  // `expire_every`: how often the writer also deletes expired messages (0: never).
  explicit session_writer(session_store& store,
                          std::chrono::milliseconds expire_every = std::chrono::seconds(30));
  ~session_writer();
  session_writer(const session_writer&) = delete;
  session_writer& operator=(const session_writer&) = delete;

  // Starts the thread. Submissions before start() wait for it.
  void start();
  // Queues `ops` (applied in submission order) and `done` (may be empty). Any thread. After
  // stop(), the operations are applied at once on the caller's thread.
  void submit(std::vector<session_op> ops, done_fn done);
  // Commits everything submitted, runs the completions, joins. Idempotent.
  void stop();

  const session_writer_stats& stats() const noexcept { return stats_; }

private:
  struct submission {
    std::vector<session_op> ops;
    done_fn done;
  };
  void run();
  void commit(std::vector<submission>& batch, bool expire);
  // Reads the store's used bytes into stats_ (after each commit).
  void refresh_size();

  session_store& store_;
  std::chrono::milliseconds expire_every_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<submission> queue_;
  bool stopping_ = false;
  bool running_ = false;
  std::thread thread_;
  std::vector<session_op> scratch_; // writer thread only
  session_writer_stats stats_;
};

} // namespace thingport::store
