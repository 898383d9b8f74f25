// The worker's side of durable sessions: what a stored session's changes write, the hand-off
// of those writes to the session writer after each handler, and the acknowledgements that wait
// for their commit (docs/lifecycles.md, "Durable session").
#include <chrono>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "broker/broker.hpp"
#include "broker/client.hpp"
#include "broker/worker.hpp"
#include "store/session_writer.hpp"

namespace thingport::broker {

namespace asio = boost::asio;

ack_token::~ack_token() {
  if (handed_over)
    return;
  if (done) {
    done(!failed.load(std::memory_order_relaxed));
    return;
  }
  // Runs on whichever thread let go last: the writer after a commit, or a worker that did not
  // need to store the message after all. Once the broker stops, the workers (and their
  // io_contexts) may be going away, and the clients are closed anyway.
  if (home->owner().stopping())
    return;
  asio::post(home->io(),
             [w = home, serial = client_serial, seq = ack_seq,
              ok = !failed.load(std::memory_order_relaxed)] { w->ack_ready(serial, seq, ok); });
}

void worker::persist(store::session_op op) {
  store_ops_.push_back(std::move(op));
  if (!store_flush_posted_) {
    store_flush_posted_ = true;
    asio::post(io_, [this] { flush_store(); });
  }
}

void worker::flush_store() {
  store_flush_posted_ = false;
  last_stored_message_ = 0;
  if (store_ops_.empty() && store_waiters_.empty())
    return;
  auto* writer = broker_.writer();
  std::vector<store::session_op> ops;
  ops.swap(store_ops_);
  store_ops_.reserve(ops.size());
  std::vector<std::shared_ptr<ack_token>> acks;
  acks.swap(store_acks_);
  std::vector<std::function<void(bool)>> waiters;
  waiters.swap(store_waiters_);
  writer->submit(std::move(ops), [acks = std::move(acks), waiters = std::move(waiters),
                                  index = index_](std::error_code ec) mutable {
    for (auto& w : waiters)
      w(!ec);
    if (ec) {
      spdlog::error("worker {}: session store commit failed ({}); {} publishers not acknowledged",
                    index, ec.message(), acks.size());
      for (auto& a : acks)
        a->failed.store(true, std::memory_order_relaxed);
    }
    acks.clear(); // the last reference posts each publisher's acknowledgement
  });
}

void worker::let_go(std::vector<std::shared_ptr<ack_token>>& holds) {
  if (holds.empty())
    return;
  if (acks_out_.empty())
    acks_out_.resize(broker_.worker_count());
  const bool stopping = broker_.stopping();
  for (auto& t : holds) {
    // Only a token no one else holds: no other thread can take a reference to it any more.
    if (t.use_count() == 1 && !t->done && !stopping) {
      acks_out_[t->home->index()].push_back(
          {t->client_serial, t->ack_seq, !t->failed.load(std::memory_order_relaxed)});
      t->handed_over = true;
    }
  }
  holds.clear(); // the others post their own acknowledgement when their last holder lets go
  for (unsigned w = 0; w < acks_out_.size(); ++w) {
    if (acks_out_[w].empty())
      continue;
    std::vector<released_ack> batch;
    batch.swap(acks_out_[w]);
    asio::post(broker_.at(w).io(), [target = &broker_.at(w), b = std::move(batch)] {
      for (const auto& a : b)
        target->ack_ready(a.client_serial, a.ack_seq, a.ok);
    });
  }
}

void worker::ack_ready(std::uint64_t serial, std::uint64_t ack_seq, bool ok) {
  if (auto it = clients_.find(serial); it != clients_.end())
    (*it)->ack_ready(ack_seq, ok);
}

std::uint64_t worker::store_entry(session& s, const message_ptr& m, std::uint8_t qos, bool retain,
                                  store::entry_state state, std::uint16_t packet_id,
                                  std::int64_t expires_ms, const std::shared_ptr<ack_token>& ack) {
  const auto seq = s.data().next_seq++;
  if (m->id != last_stored_message_) {
    // Stored once per flush here; the store keeps the first copy of an id it already has.
    last_stored_message_ = m->id;
    persist(store::put_message{m->id, m->topic, m->payload, m->qos, m->retain,
                               store::timestamp{std::chrono::milliseconds{expires_ms}}, m});
  }
  // A new seq: never stored before, so a delete in the same batch cancels it.
  persist(store::put_entry{std::string(s.key()), seq, m->id, qos, retain, state, packet_id, true});
  if (ack && (store_acks_.empty() || store_acks_.back() != ack))
    store_acks_.push_back(ack);
  return seq;
}

message_ptr worker::with_id(const message_ptr& m) {
  if (m->id != 0)
    return m;
  // Retained and will messages are made without an id; a stored one needs its own.
  return make_message(m->topic, m->payload, m->qos, m->retain, next_message_id(), m->origin);
}

void worker::drop_full(session& s) {
  stats_.dropped_queue_full.fetch_add(1, std::memory_order_relaxed);
  // Logged once per run of drops; the count is reported when the session is attached again.
  if (s.data().dropped++ == 0)
    spdlog::warn("session {}: queue full ({} messages of {} bytes; [limits] offline_queue = {}, "
                 "offline_queue_bytes = {}): dropping new messages",
                 s.key(), s.view().queue.size(), s.view().queued_bytes, broker_.opts().max_queued,
                 broker_.opts().max_queued_bytes);
}

bool worker::drop_over_budget(session& s) {
  if (!broker_.store_over_budget())
    return false;
  stats_.dropped_disk_budget.fetch_add(1, std::memory_order_relaxed);
  if (s.data().dropped++ == 0)
    spdlog::warn("session {}: the session store is over its disk budget ([store] disk_budget = "
                 "{} bytes): dropping new messages for it",
                 s.key(), broker_.opts().disk_budget);
  return true;
}

bool broker::ack_after_commit() const noexcept {
  if (writer_ == nullptr)
    return false;
  return sync_acks_ ||
         writer_->stats().backlog.load(std::memory_order_relaxed) > opts_.async_backlog;
}

bool broker::store_failing() const noexcept {
  return writer_ != nullptr && writer_->stats().failing.load(std::memory_order_relaxed);
}

bool broker::store_over_budget() const noexcept {
  return writer_ != nullptr && opts_.disk_budget != 0 &&
         writer_->stats().used_bytes.load(std::memory_order_relaxed) > opts_.disk_budget;
}

void worker::acked(session& s, const inflight_message& m) {
  if (m.seq != 0 && s.stored)
    persist(store::delete_entry{std::string(s.key()), m.seq, m.msg ? m.msg->id : 0});
}

void worker::released(session& s, const inflight_message& m) {
  if (m.seq != 0 && s.stored)
    persist(store::set_entry_state{std::string(s.key()), m.seq, store::entry_state::released,
                                   m.packet_id});
}

session& worker::restore_session(const std::string& key) {
  const auto id = broker_.sessions().allocate(index_, true);
  auto s = std::make_unique<session>(id, key);
  session& ref = *s;
  broker_.register_session(ref);
  ref.persistent = true;
  ref.budgeted = broker_.take_budget(key, true);
  sessions_.insert(std::move(s));
  return ref;
}

} // namespace thingport::broker
