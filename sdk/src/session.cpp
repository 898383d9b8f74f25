// The client's session: what outlives a link. Publishes wait in the offline buffer (pending_,
// at most options::offline_buffer) until the in-flight window (inflight_, at most
// options::inflight_window unacknowledged QoS 1 publishes) has room; after a reconnect the
// in-flight ones go again with DUP, in order, before anything newer. Subscriptions are kept and
// sent again on every link; their SUBACKs are matched by packet id on the link that asked.
#include <algorithm>

#include "client_impl.hpp"
#include "mqtt/serializer.hpp"
#include "mqtt/topic.hpp"

namespace thingport::device {

namespace {
constexpr std::size_t max_filters_per_subscribe = 8; // the platform's limit
} // namespace

void client::impl::do_publish(outbound o) {
  if (stopping_)
    return finish(o.done, errc::stopped, true);
  if (o.qos > 1 || !mqtt::valid_topic_name(o.topic))
    return finish(o.done, errc::invalid_argument, true);
  if (pending_.size() >= opts_.offline_buffer)
    return finish(o.done, errc::buffer_full, true);
  pending_.push_back(std::move(o));
  pump();
}

void client::impl::do_subscribe(std::string filter, std::uint8_t qos, message_handler h,
                                suback_handler done) {
  if (qos > 1 || !mqtt::valid_topic_filter(filter)) {
    if (done)
      done(make_error_code(errc::invalid_argument), 0x80);
    return;
  }
  subs_[filter] = sub_entry{qos, std::move(h), std::move(done)};
  if (connected_)
    send_subscribe({filter});
}

// A new link: every subscription, then the unacknowledged publishes with DUP, then the buffer.
void client::impl::resubscribe_and_resend() {
  std::vector<std::string> filters;
  filters.reserve(subs_.size());
  for (const auto& [filter, s] : subs_)
    filters.push_back(filter);
  if (!filters.empty())
    send_subscribe(filters);
  for (auto& o : inflight_) { // in their original order, before anything newer
    enqueue_publish(o, true);
    ++stats_.retried;
  }
  pump();
}

// The link ended: its queued packets and the SUBACKs it still owed are gone (the next link
// subscribes again; without this, every link dropped before its SUBACK would leave its ids here
// for good). When stopping, fail_all() reports the SUBACKs still owed as stopped.
void client::impl::forget_link() {
  outq_.clear();
  if (!stopping_)
    suback_wait_.clear();
}

void client::impl::on_publish(const mqtt::publish_packet& p) {
  ++stats_.received;
  const message m{p.topic, p.payload, p.qos, p.retain, p.dup};
  bool matched = false;
  for (const auto& [filter, s] : subs_) {
    if (mqtt::topic_matches(filter, p.topic)) {
      matched = true;
      if (s.handler)
        s.handler(m);
    }
  }
  if (!matched && on_message_)
    on_message_(m);
  if (p.qos == 1) {
    std::string bytes;
    mqtt::encode(mqtt::puback_packet{p.packet_id}, bytes);
    enqueue(std::move(bytes));
  } else if (p.qos == 2) {
    std::string bytes;
    mqtt::encode(mqtt::pubrec_packet{p.packet_id}, bytes);
    enqueue(std::move(bytes));
  }
}

void client::impl::on_puback(std::uint16_t id) {
  auto it = std::find_if(inflight_.begin(), inflight_.end(),
                         [id](const outbound& o) { return o.id == id; });
  if (it == inflight_.end())
    return; // a duplicate PUBACK after a retry
  completion done = std::move(it->done);
  inflight_.erase(it);
  ++stats_.acked;
  finish(done, errc::ok, false);
  pump();
}

void client::impl::on_suback(const mqtt::suback_packet& p) {
  auto it = suback_wait_.find(p.packet_id);
  if (it == suback_wait_.end())
    return;
  const auto filters = std::move(it->second);
  suback_wait_.erase(it);
  for (std::size_t i = 0; i < filters.size(); ++i) {
    const int code = i < p.return_codes.size() ? p.return_codes[i] : mqtt::suback_failure;
    auto s = subs_.find(filters[i]);
    if (s == subs_.end() || !s->second.done)
      continue;
    s->second.done(code == mqtt::suback_failure ? make_error_code(errc::subscribe_refused)
                                                : std::error_code{},
                   code);
  }
}

// -- sending --

void client::impl::enqueue(std::string bytes) {
  outq_.push_back(std::move(bytes));
  writer_wake_.cancel();
}

void client::impl::enqueue_publish(const outbound& o, bool dup) {
  std::string bytes;
  mqtt::encode_publish(bytes, o.topic, o.payload, o.qos, o.retain, dup && o.qos > 0, o.id);
  enqueue(std::move(bytes));
  ++stats_.published;
}

void client::impl::send_subscribe(const std::vector<std::string>& filters) {
  for (std::size_t at = 0; at < filters.size(); at += max_filters_per_subscribe) {
    mqtt::subscribe_packet s;
    s.packet_id = next_packet_id();
    std::vector<std::string> batch;
    for (std::size_t i = at; i < std::min(filters.size(), at + max_filters_per_subscribe); ++i) {
      s.subscriptions.push_back({filters[i], subs_[filters[i]].qos});
      batch.push_back(filters[i]);
    }
    suback_wait_[s.packet_id] = std::move(batch);
    std::string bytes;
    mqtt::encode(s, bytes);
    enqueue(std::move(bytes));
  }
}

// Moves buffered publishes onto the link while the in-flight window has room.
void client::impl::pump() {
  if (!connected_ || close_after_flush_)
    return;
  while (!pending_.empty()) {
    if (pending_.front().qos == 1 && inflight_.size() >= opts_.inflight_window)
      return;
    outbound o = std::move(pending_.front());
    pending_.pop_front();
    if (o.qos == 0) {
      enqueue_publish(o, false);
      finish(o.done, errc::ok, false);
      continue;
    }
    o.id = next_packet_id();
    enqueue_publish(o, false);
    inflight_.push_back(std::move(o));
  }
}

std::uint16_t client::impl::next_packet_id() {
  for (int tries = 0; tries < 65536; ++tries) {
    if (++last_id_ == 0)
      last_id_ = 1;
    const auto id = last_id_;
    const bool used = suback_wait_.contains(id) || unsub_waiting(id) ||
                      std::any_of(inflight_.begin(), inflight_.end(),
                                  [id](const outbound& o) { return o.id == id; });
    if (!used)
      return id;
  }
  return last_id_; // unreachable: the window and SUBSCRIBEs in flight are far below 65535
}

void client::impl::finish(const completion& done, errc e, bool refused) {
  if (refused)
    ++stats_.refused;
  if (done)
    done(make_error_code(e));
}

void client::impl::fail_all() {
  for (auto& o : inflight_)
    finish(o.done, errc::stopped, true);
  for (auto& o : pending_)
    finish(o.done, errc::stopped, true);
  inflight_.clear();
  pending_.clear();
  for (auto& [id, filters] : suback_wait_) {
    for (const auto& f : filters) {
      auto s = subs_.find(f);
      if (s != subs_.end() && s->second.done)
        s->second.done(make_error_code(errc::stopped), 0x80);
    }
  }
  suback_wait_.clear();
}

} // namespace thingport::device
