#include "store/session_writer.hpp"

#include <algorithm>
#include <chrono>

#include "store/session_coalesce.hpp"

namespace thingport::store {

session_writer::session_writer(session_store& store, std::chrono::milliseconds expire_every)
    : store_(store), expire_every_(expire_every) {}

session_writer::~session_writer() {
  stop();
}

void session_writer::refresh_size() {
  // Three PRAGMAs that read the database header: cheap next to the commit before them.
  if (auto bytes = store_.used_bytes())
    stats_.used_bytes.store(*bytes, std::memory_order_relaxed);
}

void session_writer::start() {
  refresh_size();
  std::lock_guard lock(mu_);
  if (running_ || stopping_)
    return;
  running_ = true;
  thread_ = std::thread([this] { run(); });
}

void session_writer::submit(std::vector<session_op> ops, done_fn done) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      stats_.backlog.fetch_add(ops.size(), std::memory_order_relaxed);
      queue_.push_back({std::move(ops), std::move(done)});
      if (queue_.size() == 1)
        cv_.notify_one();
      return;
    }
  }
  // Stopped: nobody will commit for us.
  stats_.backlog.fetch_add(ops.size(), std::memory_order_relaxed);
  std::vector<submission> one;
  one.push_back({std::move(ops), std::move(done)});
  commit(one, false);
}

void session_writer::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_)
      return;
    stopping_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable())
    thread_.join();
  std::vector<submission> rest;
  {
    std::lock_guard lock(mu_);
    rest.swap(queue_);
  }
  if (!rest.empty())
    commit(rest, false);
}

void session_writer::run() {
  using clock = std::chrono::steady_clock;
  auto next_expiry = clock::now() + expire_every_;
  std::vector<submission> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      const auto woken = [&] { return !queue_.empty() || stopping_; };
      if (expire_every_.count() > 0)
        cv_.wait_until(lock, next_expiry, woken);
      else
        cv_.wait(lock, woken);
      if (stopping_)
        return; // stop() commits what is left, on its own thread
      batch.swap(queue_);
    }
    bool expire = false;
    if (expire_every_.count() > 0 && clock::now() >= next_expiry) {
      expire = true;
      next_expiry = clock::now() + expire_every_;
    }
    if (!batch.empty() || expire)
      commit(batch, expire);
    batch.clear();
  }
}

void session_writer::commit(std::vector<submission>& batch, bool expire) {
  auto& all = scratch_;
  all.clear();
  std::uint64_t queued = 0; // what submit() counted into the backlog
  for (auto& s : batch) {
    queued += s.ops.size();
    for (auto& op : s.ops)
      all.push_back(std::move(op));
  }
  const auto submitted = all.size();
  stats_.cancelled.fetch_add(coalesce(all), std::memory_order_relaxed);
  if (expire)
    all.push_back(delete_expired{
        std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now())});
  const auto ec = store_.apply(all);
  stats_.backlog.fetch_sub(queued, std::memory_order_relaxed);
  stats_.commits.fetch_add(1, std::memory_order_relaxed);
  stats_.ops.fetch_add(submitted, std::memory_order_relaxed);
  auto prev = stats_.max_batch.load(std::memory_order_relaxed);
  while (submitted > prev && !stats_.max_batch.compare_exchange_weak(prev, submitted)) {
  }
  if (ec)
    stats_.failures.fetch_add(1, std::memory_order_relaxed); // completions log it
  stats_.failing.store(static_cast<bool>(ec), std::memory_order_relaxed);
  all.clear(); // releases the payloads the operations held
  refresh_size();
  for (auto& s : batch)
    if (s.done)
      s.done(ec);
}

} // namespace thingport::store
