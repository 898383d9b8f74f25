#include "cluster/session_rescue.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <spdlog/spdlog.h>
#include <unordered_map>
#include <vector>

#include "broker/broker.hpp"
#include "broker/session_snapshot.hpp"
#include "cluster/node.hpp"
#include "cluster/stop_thread.hpp"

namespace thingport::cluster {

namespace {

using steady = std::chrono::steady_clock;

// A node's rows as the sessions they were: subscriptions, then the messages its client has not
// acknowledged in the order they would have gone (an expired one, or a QoS 2 message whose
// PUBREC came, is not sent again).
class snapshots final : public store::session_sink {
public:
  explicit snapshots(store::timestamp now) : now_(now) {}

  void on_session(const store::stored_session& s) override { sessions_[s.key].key = s.key; }
  void on_subscription(const store::stored_subscription& s) override {
    if (auto it = sessions_.find(s.session_key); it != sessions_.end())
      it->second.subscriptions.push_back({s.filter, s.qos});
  }
  void on_message(const store::stored_message& m) override {
    if (m.expires_at == store::timestamp{} || m.expires_at > now_)
      messages_.emplace(m.id, m);
  }
  void on_entry(const store::stored_entry& e) override {
    auto s = sessions_.find(e.session_key);
    auto m = messages_.find(e.message_id);
    if (s == sessions_.end() || m == messages_.end() || e.state == store::entry_state::released)
      return;
    s->second.messages.push_back({m->second.topic, m->second.payload, e.qos, e.retain});
    ++message_count_;
  }

  std::map<std::string, broker::session_snapshot>& sessions() { return sessions_; }
  std::size_t message_count() const noexcept { return message_count_; }

private:
  store::timestamp now_;
  std::map<std::string, broker::session_snapshot> sessions_;
  std::unordered_map<std::uint64_t, store::stored_message> messages_;
  std::size_t message_count_ = 0;
};

// Waits for the broker's word on each session added: every one committed, or not.
struct commits {
  std::mutex mu;
  std::condition_variable cv;
  std::size_t left = 0;
  bool ok = true;
};

} // namespace

session_rescue::session_rescue(broker::broker& b, node& n, rescue_options o)
    : broker_(b), node_(n), opts_(std::move(o)), vault_(opts_.db, n.name()) {}

session_rescue::~session_rescue() {
  stop();
}

void session_rescue::start() {
  thread_ = std::thread([this] { run(); });
}

void session_rescue::stop() {
  stop_thread(mu_, cv_, stopping_, thread_);
  std::deque<request> left;
  {
    std::lock_guard lock(mu_);
    left.swap(queue_);
  }
  for (auto& r : left)
    if (r.done)
      r.done({});
}

void session_rescue::take(std::string key, unsigned prefer, taken_fn done) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && queue_.size() < opts_.max_queued) {
      queue_.push_back({std::move(key), prefer, std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  if (done)
    done({});
}

void session_rescue::run() {
  auto next_sweep = steady::now();
  for (;;) {
    std::deque<request> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, next_sweep, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_)
        return;
      batch.swap(queue_);
    }
    for (auto& r : batch)
      take_now(r);
    if (const auto now = steady::now(); now >= next_sweep) {
      sweep(now);
      next_sweep = steady::now() + opts_.sweep_every;
    }
  }
}

bool session_rescue::failed() {
  // Logins trigger these: a PostgreSQL outage under a reconnect storm logs the first and every
  // 1000th, not one line per login.
  const auto n = stats_.failures.fetch_add(1, std::memory_order_relaxed) + 1;
  return n == 1 || n % 1000 == 0;
}

void session_rescue::take_now(request& r) {
  std::string from;
  if (auto holder = vault_.holder(r.key); !holder) {
    if (failed())
      spdlog::warn("cluster: session {}: cannot look for it in PostgreSQL: {} ({} store "
                   "failures so far)",
                   r.key, holder.error().message(), stats_.failures.load());
  } else if (*holder && move(**holder, r.key, r.prefer, nullptr).value_or(0) > 0) {
    from = std::move(**holder);
  }
  if (r.done)
    r.done(std::move(from));
}

void session_rescue::sweep(steady::time_point now) {
  if (!node_.linked()) {
    joined_.reset(); // cut off: every peer looks silent; wait to hear them again
    return;
  }
  if (!joined_)
    joined_ = now;
  if (now - *joined_ < opts_.silent_after + opts_.sweep_every)
    return; // every live peer has been heard by then
  if (now >= holders_at_) {
    auto holders = vault_.nodes();
    if (!holders) {
      spdlog::warn("cluster: cannot read which nodes have sessions in PostgreSQL: {}",
                   holders.error().message());
      return;
    }
    holders_ = std::move(*holders);
    holders_at_ = now + opts_.holders_every;
  }
  if (holders_.empty())
    return;
  // A node silent on NATS whose lock is free is not running. (One heard is not taken even with
  // its lock free: it is alive and only cut off from PostgreSQL for a moment.)
  auto heard = node_.peers_heard(opts_.silent_after);
  std::sort(heard.begin(), heard.end());
  for (auto it = holders_.begin(); it != holders_.end();) {
    if (std::binary_search(heard.begin(), heard.end(), *it)) {
      ++it;
      continue;
    }
    std::vector<std::string> keys;
    const auto moved = move(*it, std::nullopt, 0, &keys);
    if (!moved) {
      ++it;
      continue;
    }
    if (*moved > 0) {
      spdlog::info("cluster: node {} is not running and its {} persistent sessions are here "
                   "now; offered to the nodes their clients may be on",
                   *it, *moved);
      node_.offer(keys);
    }
    it = holders_.erase(it);
  }
}

std::optional<std::size_t> session_rescue::move(const std::string& from,
                                                std::optional<std::string> key, unsigned prefer,
                                                std::vector<std::string>* keys) {
  auto held = vault_.hold(from);
  if (!held || !*held) {
    if (!held && failed())
      spdlog::warn("cluster: cannot lock node {}'s sessions in PostgreSQL: {} ({} store failures "
                   "so far)",
                   from, held.error().message(), stats_.failures.load());
    return std::nullopt; // running, or another survivor is moving them
  }
  struct release_at_exit {
    store::pg_session_vault& v;
    const std::string& node;
    ~release_at_exit() { v.release(node); }
  } release{vault_, from};

  snapshots found(store::now());
  if (auto ec = vault_.load(from, key, found)) {
    if (failed())
      spdlog::warn("cluster: cannot read node {}'s sessions from PostgreSQL: {} ({} store failures "
                   "so far)",
                   from, ec.message(), stats_.failures.load());
    return std::nullopt;
  }
  auto& sessions = found.sessions();
  if (sessions.empty())
    return 0;
  auto wait = std::make_shared<commits>();
  wait->left = sessions.size();
  std::vector<std::string> moved;
  moved.reserve(sessions.size());
  for (auto& [k, snap] : sessions) {
    moved.push_back(k);
    const unsigned worker = key ? prefer : static_cast<unsigned>(std::hash<std::string>{}(k));
    broker_.absorb_session(std::make_shared<const broker::session_snapshot>(std::move(snap)),
                           worker, [wait](bool ok) {
                             std::lock_guard lock(wait->mu);
                             wait->ok = wait->ok && ok;
                             if (--wait->left == 0)
                               wait->cv.notify_all();
                           });
  }
  bool committed = false;
  {
    std::unique_lock lock(wait->mu);
    committed =
        wait->cv.wait_for(lock, opts_.commit_wait, [&] { return wait->left == 0; }) && wait->ok;
  }
  // Deleted there only once stored here; otherwise kept there, and moved again by a later sweep
  // (the messages already added here then come twice).
  std::error_code ec =
      committed ? vault_.erase(from, moved) : make_error_code(std::errc::timed_out);
  if (ec) {
    if (failed())
      spdlog::warn("cluster: {} sessions of node {} added here but not deleted there ({}); they "
                   "may be moved again, their messages sent twice ({} store failures so far)",
                   moved.size(), from, ec.message(), stats_.failures.load());
    return std::nullopt;
  }
  stats_.sessions.fetch_add(moved.size(), std::memory_order_relaxed);
  stats_.messages.fetch_add(found.message_count(), std::memory_order_relaxed);
  if (key)
    spdlog::info("cluster: session {} taken over from node {}, which is not running ({} "
                 "messages)",
                 *key, from, found.message_count());
  const auto n = moved.size();
  if (keys != nullptr)
    *keys = std::move(moved);
  return n;
}

} // namespace thingport::cluster
