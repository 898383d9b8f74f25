// broker::restore(): the stored persistent sessions back onto the workers at start, before any
// listener accepts (docs/lifecycles.md, "Durable session").
#include <algorithm>
#include <chrono>
#include <string>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "broker/broker.hpp"
#include "store/session_store.hpp"

namespace thingport::broker {

namespace {

class restorer final : public store::session_sink {
public:
  explicit restorer(broker& b) : b_(b) {}

  void on_session(const store::stored_session& s) override {
    worker& w = b_.at(next_++ % b_.worker_count());
    sessions_.emplace(s.key, place{&w, &w.restore_session(s.key)});
  }
  void on_subscription(const store::stored_subscription& sub) override {
    auto it = sessions_.find(sub.session_key);
    if (it == sessions_.end())
      return;
    it->second.w->subscribe(*it->second.s, sub.filter, sub.qos);
    ++subscriptions_;
  }
  void on_message(const store::stored_message& m) override {
    max_id_ = std::max(max_id_, m.id);
    messages_.emplace(m.id, std::make_shared<const message>(
                                message{m.topic, m.payload, m.qos, m.retain, m.id, 0}));
    expires_.emplace(m.id, m.expires_at.time_since_epoch().count());
  }
  void on_entry(const store::stored_entry& e) override {
    auto it = sessions_.find(e.session_key);
    auto m = messages_.find(e.message_id);
    if (it == sessions_.end() || m == messages_.end())
      return;
    auto& s = it->second.s->data();
    s.next_seq = std::max(s.next_seq, e.seq + 1);
    ++entries_;
    if (e.state == store::entry_state::queued) {
      s.queue.push_back({m->second, e.qos, e.retain, e.seq, expires_[e.message_id], nullptr});
      s.queued_bytes += m->second->topic.size() + m->second->payload.size();
      b_.reserve_queued(m->second->topic.size() + m->second->payload.size(), true);
      return;
    }
    s.inflight.push_back(
        {m->second, e.packet_id, e.qos, e.retain, e.state == store::entry_state::released, e.seq});
  }

  // Written through from now on (not while loading: that would write back what was read).
  std::size_t finish() {
    for (auto& [key, p] : sessions_)
      p.s->stored = true;
    const auto seq = (max_id_ >> 10) + 1;
    for (unsigned i = 0; i < b_.worker_count(); ++i)
      b_.at(i).set_message_seq(seq);
    spdlog::info("{} persistent sessions loaded: {} subscriptions, {} messages, {} queued or in "
                 "flight",
                 sessions_.size(), subscriptions_, messages_.size(), entries_);
    return sessions_.size();
  }
  std::uint64_t max_id() const noexcept { return max_id_; }

private:
  struct place {
    worker* w;
    session* s;
  };
  broker& b_;
  unsigned next_ = 0;
  std::unordered_map<std::string, place> sessions_;
  std::unordered_map<std::uint64_t, message_ptr> messages_;
  std::unordered_map<std::uint64_t, std::int64_t> expires_;
  std::uint64_t max_id_ = 0;
  std::size_t subscriptions_ = 0;
  std::size_t entries_ = 0;
};

} // namespace

store::result<std::size_t> broker::restore(store::session_store& s) {
  const store::session_op expire[] = {store::delete_expired{
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now())}};
  if (auto ec = s.apply(expire))
    return ec;
  restorer r(*this);
  if (auto ec = s.load_all(r))
    return ec;
  // API message ids continue above the stored ones too.
  const auto next = (r.max_id() >> 10) + 1;
  auto cur = msg_id_.load();
  while (cur < next && !msg_id_.compare_exchange_weak(cur, next)) {
  }
  return r.finish();
}

} // namespace thingport::broker
