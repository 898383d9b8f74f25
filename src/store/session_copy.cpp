#include <memory>
#include <vector>

#include "store/session_store.hpp"

namespace thingport::store {

namespace {

// Every row read turned into the operation that writes it.
class to_ops final : public session_sink {
public:
  std::vector<session_op> ops;
  session_counts counts;

  void on_session(const stored_session& s) override {
    ops.emplace_back(put_session{s.key, s.created});
    ++counts.sessions;
  }
  void on_subscription(const stored_subscription& s) override {
    ops.emplace_back(put_subscription{s.session_key, s.filter, s.qos});
    ++counts.subscriptions;
  }
  void on_message(const stored_message& m) override {
    auto held = std::make_shared<const stored_message>(m);
    ops.emplace_back(put_message{held->id, held->topic, held->payload, held->qos, held->retain,
                                 held->expires_at, held});
    ++counts.messages;
  }
  void on_entry(const stored_entry& e) override {
    ops.emplace_back(
        put_entry{e.session_key, e.seq, e.message_id, e.qos, e.retain, e.state, e.packet_id});
    ++counts.entries;
  }
};

} // namespace

result<session_counts> copy_sessions(session_store& from, session_store& to) {
  to_ops rows;
  if (auto ec = from.load_all(rows))
    return ec;
  if (auto ec = to.apply(rows.ops))
    return ec;
  return rows.counts;
}

} // namespace thingport::store
