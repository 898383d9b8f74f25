#include "broker/broker.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "store/session_writer.hpp"

namespace thingport::broker {

namespace asio = boost::asio;

broker::broker(options o, std::shared_ptr<client_policy> policy)
    : opts_(o), policy_(std::move(policy)),
      retained_(retained_limits{o.max_retained, o.max_retained_bytes}) {
  unsigned n = opts_.workers != 0 ? opts_.workers : std::thread::hardware_concurrency();
  if (n == 0)
    n = 1;
  for (unsigned i = 0; i < n; ++i)
    workers_.push_back(std::make_unique<worker>(*this, i));
}

broker::~broker() {
  stop();
}

void broker::start() {
  if (started_.exchange(true))
    return;
  for (auto& w : workers_) {
    threads_.emplace_back([w = w.get()] {
      auto guard = asio::make_work_guard(w->io());
      for (;;) {
        try {
          w->io().run();
          break;
        } catch (const std::exception& e) {
          // A handler threw: a bug. Log it and keep the worker serving everyone else.
          spdlog::error("worker {}: unexpected exception: {}", w->index(), e.what());
        }
      }
    });
  }
}

void broker::stop() {
  if (!started_.load() || stopped_.exchange(true))
    return;
  for (auto& w : workers_)
    asio::post(w->io(), [w = w.get()] { w->shutdown(); });
  for (auto& t : threads_)
    t.join();
  threads_.clear();
  if (writer_ != nullptr) {
    // The workers are stopped: hand over what their last handlers wrote, commit it all.
    for (auto& w : workers_)
      w->flush_store();
    writer_->stop();
    const auto& st = writer_->stats();
    const auto commits = st.commits.load();
    spdlog::info("session store: {} commits, {} operations ({:.1f} per commit, most {}), {} failed",
                 commits, st.ops.load(),
                 commits == 0 ? 0.0
                              : static_cast<double>(st.ops.load()) / static_cast<double>(commits),
                 st.max_batch.load(), st.failures.load());
  }
}

std::uint64_t broker::total(std::atomic<std::uint64_t> counters::*field) const noexcept {
  std::uint64_t sum = 0;
  for (const auto& w : workers_)
    sum += (w->stats().*field).load(std::memory_order_relaxed);
  return sum;
}

bool broker::take_budget(std::string_view session_key, bool force) {
  const std::string budget = policy_->budget_of(session_key);
  if (budget.empty())
    return true;
  const std::size_t limit = policy_->budget_limit(budget);
  std::lock_guard lock(budget_mu_);
  auto& n = budgets_[budget];
  if (!force && limit != 0 && n >= limit)
    return false;
  ++n;
  return true;
}

void broker::give_budget(std::string_view session_key) {
  const std::string budget = policy_->budget_of(session_key);
  if (budget.empty())
    return;
  std::lock_guard lock(budget_mu_);
  auto it = budgets_.find(budget);
  if (it == budgets_.end())
    return;
  if (--it->second == 0)
    budgets_.erase(it);
}

std::uint64_t broker::total_refused(std::size_t code) const noexcept {
  std::uint64_t sum = 0;
  for (const auto& w : workers_)
    if (code < w->stats().refused_by_code.size())
      sum += w->stats().refused_by_code[code].load(std::memory_order_relaxed);
  return sum;
}

std::uint64_t broker::total_closes(close_reason r) const noexcept {
  std::uint64_t sum = 0;
  for (const auto& w : workers_)
    sum += w->stats().closes[static_cast<std::size_t>(r)].load(std::memory_order_relaxed);
  return sum;
}

worker& broker::pick() noexcept {
  return *workers_[rr_.fetch_add(1, std::memory_order_relaxed) % workers_.size()];
}

void broker::publish(message_ptr m) {
  publish(std::move(m), [](bool) {});
}

void broker::publish(message_ptr m, std::function<void(bool)> done) {
  publish_on(pick(), std::move(m), std::move(done));
}

void broker::publish_to(std::string_view session_key, message_ptr m,
                        std::function<void(bool)> done) {
  const auto id = find_session(session_key);
  const auto home = id != 0 ? sessions_.home(id) : std::nullopt;
  publish_on(home ? at(*home) : pick(), std::move(m), std::move(done));
}

subscriber_id broker::find_session(std::string_view key) const {
  std::lock_guard lock(registry_mu_);
  const auto it = registry_.find(key);
  return it == registry_.end() ? 0 : (*it)->id();
}

std::vector<std::string> broker::session_keys() const {
  std::lock_guard lock(registry_mu_);
  std::vector<std::string> keys;
  keys.reserve(registry_.size());
  for (const auto* s : registry_)
    keys.emplace_back(s->key());
  return keys;
}

void broker::register_session(const session& s) {
  std::lock_guard lock(registry_mu_);
  auto it = registry_.find(s.key());
  if (it == registry_.end()) {
    registry_.insert(&s);
    return;
  }
  // The old entry may name a session about to go: this one replaces it.
  registry_.erase(it);
  registry_.insert(&s);
}

void broker::unregister_session(std::string_view key, subscriber_id id) {
  std::lock_guard lock(registry_mu_);
  const auto it = registry_.find(key);
  if (it != registry_.end() && (*it)->id() == id)
    registry_.erase(it);
}

void broker::publish_on(worker& w, message_ptr m, std::function<void(bool)> done) {
  asio::post(w.io(), [&w, m = std::move(m), done = std::move(done)]() mutable {
    if (m->retain)
      w.owner().retained().set(m);
    if (auto* link = w.owner().linked())
      link->published(m, m->retain);
    const auto routed = m->retain ? make_message(m->topic, m->payload, m->qos, false, m->id) : m;
    const bool commit = w.owner().ack_after_commit();
    if (routed->qos == 0 || (!commit && w.owner().opts().overload != overload_mode::backpressure)) {
      w.route(routed);
      return done(true);
    }
    publish_ack wait{0, 0, nullptr, commit};
    w.route(routed, &wait);
    // The token has not left this thread yet: its deliveries and store writes are posted.
    if (wait.token)
      wait.token->done = std::move(done);
    else
      done(true);
  });
}

void broker::publish_remote(message_ptr m, std::uint64_t order) {
  worker& w = *workers_[order % workers_.size()];
  asio::post(w.io(), [&w, m = std::move(m)]() mutable {
    if (m->retain)
      w.owner().retained().set(m);
    // A QoS 1 message a persistent session stores needs an id of this node.
    const auto id = m->qos > 0 ? w.next_message_id() : 0;
    w.route(make_message(m->topic, m->payload, m->qos, false, id));
  });
}

std::pair<worker*, subscriber_id> broker::session_home(std::string_view key) const {
  const auto id = find_session(key);
  if (id == 0)
    return {nullptr, 0};
  const auto home = sessions_.home(id);
  if (!home)
    return {nullptr, 0};
  return {workers_[*home].get(), id};
}

void broker::disconnect(std::string_view session_key, close_reason r, bool discard) {
  const auto [w, id] = session_home(session_key);
  if (w == nullptr)
    return;
  asio::post(w->io(), [w, id, r, discard] { w->disconnect_session(id, r, discard, 0); });
}

} // namespace thingport::broker
