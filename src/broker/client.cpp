#include "broker/client.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

#include <openssl/rand.h>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "broker/broker.hpp"
#include "broker/log_limiter.hpp"
#include "broker/session.hpp"
#include "broker/worker.hpp"
#include "mqtt/error.hpp"
#include "mqtt/serializer.hpp"

namespace thingport::broker {

namespace {
// Client ids and topics can be 64 KiB of anything: logs get the start of them.
std::string_view log_id(const compact_string& id) noexcept {
  return id.view().substr(0, 96);
}
std::string_view log_topic(std::string_view topic) noexcept {
  return topic.substr(0, 128);
}

// What any client can make the server log, at most this many lines a second each; the rest
// are counted and summarized on the next line let through.
log_limiter bad_packet_log{20};
log_limiter refused_log{20};
log_limiter denied_log{20};
log_limiter retained_log{5};
log_limiter close_log{200};

// "$auto/" and 16 random bytes in hex: an assigned id nobody can guess to take the session.
std::string assigned_client_id() {
  std::array<unsigned char, 16> r{};
  if (RAND_bytes(r.data(), static_cast<int>(r.size())) != 1)
    throw std::runtime_error("RAND_bytes failed");
  static constexpr char hex[] = "0123456789abcdef";
  std::string id = std::string(assigned_id_prefix);
  for (auto c : r) {
    id += hex[c >> 4];
    id += hex[c & 15];
  }
  return id;
}
} // namespace

client::client(worker& w, transport& t, transport_info info, clock::time_point now)
    : worker_(w), transport_(t), info_(std::move(info)), serial_(w.owner().next_serial()),
      last_rx_(now) {
  worker_.add_client(*this);
}

mqtt::parser_options client::parser_options() const noexcept {
  const auto& o = worker_.owner().opts();
  mqtt::parser_options po;
  po.side = mqtt::parser_options::role::server;
  if (state_ == state::awaiting_connect) {
    // Until CONNECT is accepted a stranger gets only max_connect_size; then the PUBLISH limits.
    po.max_payload = std::min(o.max_payload, o.max_connect_size);
    po.max_remaining_length = o.max_connect_size;
  } else {
    po.max_payload = o.max_payload;
    po.max_remaining_length = o.max_payload + 65536 + 4;
  }
  return po;
}

client::~client() {
  if (state_ != state::closed) {
    state_ = state::closed;
    detach(false);
  }
  worker_.remove_client(*this);
}

std::string_view client::session_key() const noexcept {
  if (!identity_)
    return {}; // no accepted CONNECT yet
  if (!identity_->session_key.empty())
    return identity_->session_key;
  return client_id_.empty() && more_ && !more_->assigned_key.empty()
             ? std::string_view(more_->assigned_key)
             : client_id_.view();
}

std::size_t client::feed(std::span<const std::uint8_t> in, clock::time_point now) {
  std::size_t used = 0;
  while ((state_ == state::awaiting_connect || state_ == state::connected) && !over_outbound_ &&
         !waiting_for_acks()) {
    auto r = mqtt::parse(in.subspan(used), parser_options());
    if (r.state == mqtt::parse_result::status::need_more)
      break;
    if (r.state == mqtt::parse_result::status::error) {
      if (auto n = bad_packet_log.admit())
        spdlog::info("client {} ({}): bad packet: {}{}", log_id(client_id_), info_.remote_address,
                     r.ec.message(), suppressed_note(*n));
      if (state_ == state::awaiting_connect) {
        if (auto code = mqtt::connack_code_for(r.ec)) {
          refuse(*code, close_reason::protocol_error);
          break;
        }
      }
      const bool too_large =
          r.ec == mqtt::errc::payload_too_large || r.ec == mqtt::errc::packet_too_large;
      close(too_large ? close_reason::payload_too_large : close_reason::malformed_packet);
      break;
    }
    used += r.consumed;
    last_rx_ = now;
    if (state_ == state::awaiting_connect && !std::holds_alternative<mqtt::connect_packet>(r.pkt)) {
      close(close_reason::protocol_error);
      break;
    }
    std::visit([this](const auto& p) { handle(p); }, r.pkt);
  }
  if (has_output())
    transport_.wake();
  return used;
}

void client::on_timer(clock::time_point now) {
  if (state_ == state::closed)
    return;
  if (now >= close_at())
    return close(close_reason::registered);
  if (now >= deadline()) {
    close(state_ == state::awaiting_connect ? close_reason::connect_timeout
                                            : close_reason::keepalive_timeout);
  }
}

clock::time_point client::deadline() const noexcept {
  if (state_ == state::awaiting_connect)
    return last_rx_ + worker_.owner().opts().connect_timeout;
  if (state_ == state::connected && keepalive_ > 0)
    return std::min(close_at(),
                    last_rx_ + std::chrono::milliseconds(std::uint64_t{keepalive_} * 1500));
  return close_at();
}

void client::refuse(mqtt::connack_code code, close_reason r) {
  if (const auto c = static_cast<std::size_t>(code); c < worker_.stats().refused_by_code.size())
    worker_.stats().refused_by_code[c].fetch_add(1, std::memory_order_relaxed);
  send(mqtt::connack_packet{false, code});
  close(r);
}

void client::close(close_reason r) {
  if (state_ == state::closed)
    return;
  const bool was_connected = state_ != state::awaiting_connect;
  state_ = state::closed;
  reason_ = r;
  worker_.stats().closes[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  if (was_connected || r != close_reason::peer_closed) {
    if (auto n = close_log.admit())
      spdlog::info("close client={} addr={} transport={} reason={}{}", log_id(client_id_),
                   info_.remote_address, to_string(info_.kind), to_string(r), suppressed_note(*n));
  }
  detach(r != close_reason::client_disconnect);
  if (online_) {
    online_ = false;
    worker_.owner().policy().on_offline(*identity_, serial_, r);
    if (auto* link = worker_.owner().linked())
      link->link_down(serial_);
  }
  transport_.shutdown();
}

void client::on_transport_closed(close_reason r) {
  close(r);
}

void client::refuse_session() {
  if (state_ != state::awaiting_session)
    return;
  worker_.stats().connect_refused.fetch_add(1, std::memory_order_relaxed);
  if (auto n = refused_log.admit())
    spdlog::info("refused client={} addr={} code=5 why=persistent session limit of its "
                 "credential reached ([limits] max_app_sessions, max_anonymous_sessions){}",
                 log_id(client_id_), info_.remote_address, suppressed_note(*n));
  drop_will();
  refuse(mqtt::connack_code::not_authorized, close_reason::session_limit);
  transport_.wake();
}

void client::take_over() {
  session_ = nullptr;
  close(close_reason::taken_over);
}

void client::detach(bool publish_will) {
  if (const auto* w = will(); publish_will && w != nullptr && identity_) {
    auto m = make_message(w->topic, w->payload, w->qos, false,
                          w->qos > 0 ? worker_.next_message_id() : 0);
    const bool kept = w->retain && keep_retained(w->topic, w->payload, w->qos);
    if (auto* link = worker_.owner().linked())
      link->published(m, kept);
    worker_.route(m);
  }
  drop_will();
  if (session_ != nullptr) {
    session* s = session_;
    session_ = nullptr;
    worker_.detach_session(*this, *s);
  }
}

// One bound on everything queued to this client that it has not read yet, whatever caused it
// (acks, pongs, subacks, retained, deliveries): over it the client is a slow consumer.
void client::check_outbound() {
  if (over_outbound_ || state_ == state::closed ||
      (out_ ? out_->size() : 0) <= worker_.owner().opts().max_outbound_bytes)
    return;
  over_outbound_ = true; // and feed() reads no more of its packets
  // Not closed from here: we may be inside a loop over this client's session.
  boost::asio::post(worker_.io(), [w = &worker_, serial = serial_] {
    w->close_client(serial, close_reason::slow_consumer);
  });
}

void client::send(const mqtt::packet& p) {
  mqtt::encode(p, out());
  check_outbound();
}

void client::send_publish(const message& m, std::uint8_t qos, bool retain, bool dup,
                          std::uint16_t packet_id) {
  mqtt::encode_publish(out(), m.topic, m.payload, qos, retain, dup, packet_id);
  check_outbound();
  transport_.wake();
}

void client::send_pubrel(std::uint16_t packet_id) {
  send(mqtt::pubrel_packet{packet_id});
  transport_.wake();
}

bool client::waiting_for_acks() const noexcept {
  return acks_waiting() >= worker_.owner().opts().max_inbound_qos1;
}

void client::attach(session& s, bool session_present) {
  session_ = &s;
  s.conn = this;
  s.identity = identity_;
  if (!session_present)
    s.persistent = !clean_session_;
  state_ = state::connected;
  send(mqtt::connack_packet{session_present, mqtt::connack_code::accepted});
  worker_.stats().connects.fetch_add(1, std::memory_order_relaxed);
  spdlog::debug("connect client={} addr={} transport={} session_present={}", log_id(client_id_),
                info_.remote_address, to_string(info_.kind), session_present);
  if (!session_present) {
    for (const auto& f : identity_->implicit())
      worker_.subscribe(s, f, identity_->implicit_qos);
  }
  online_ = true;
  worker_.owner().policy().on_online(*identity_, connection_facts{serial_, client_id_, info_});
  if (auto* link = worker_.owner().linked())
    link->link_up(*identity_, session_key(), serial_, will());
  if (const auto* r = identity_->reply()) {
    for (const auto& [topic, payload] : r->greeting)
      mqtt::encode_publish(out(), topic, payload, 0, false, false, 0);
    if (r->close_after.count() > 0)
      more().close_at = last_rx_ + r->close_after;
  }
  if (s.view().dropped != 0) {
    spdlog::warn("session {}: {} messages were dropped while it was offline (queue full or the "
                 "store's disk budget)",
                 s.key(), s.view().dropped);
    s.data().dropped = 0;
  }
  // Unacknowledged messages go again, with DUP, in their original order.
  for (const auto& m : s.view().inflight) {
    if (m.released)
      send(mqtt::pubrel_packet{m.packet_id});
    else
      mqtt::encode_publish(out(), m.msg->topic, m.msg->payload, m.qos, m.retain, true, m.packet_id);
  }
  worker_.drain(s);
  check_outbound();
  if (has_output())
    transport_.wake();
  transport_.resume_reading();
}

// --- packets ---

void client::handle(const mqtt::connect_packet& p) {
  if (state_ != state::awaiting_connect)
    return close(close_reason::protocol_error);
  client_id_ = compact_string(p.client_id);
  keepalive_ = p.keepalive;
  clean_session_ = p.clean_session;
  if (p.client_id.empty() && !p.clean_session)
    return refuse(mqtt::connack_code::identifier_rejected, close_reason::auth_failed);
  // Assigned ids are the server's: a client naming one could take another's session.
  if (std::string_view(p.client_id).starts_with(assigned_id_prefix))
    return refuse(mqtt::connack_code::identifier_rejected, close_reason::auth_failed);
  auto& b = worker_.owner();
  auto decision = b.policy().authenticate(p, info_);
  if (auto* no = std::get_if<connect_refusal>(&decision)) {
    worker_.stats().connect_refused.fetch_add(1, std::memory_order_relaxed);
    if (auto n = refused_log.admit())
      spdlog::info("refused client={} addr={} code={} why={}{}", log_id(client_id_),
                   info_.remote_address, static_cast<int>(no->code), no->why, suppressed_note(*n));
    return refuse(no->code, close_reason::auth_failed);
  }
  if (!p.clean_session && b.store_failing()) {
    // Its session could not be kept: refuse rather than promise what the disk cannot hold.
    worker_.stats().connect_refused.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("refused client={} addr={} code=3 why=the session store is failing (disk full or "
                 "read-only?); persistent sessions are refused until a commit succeeds",
                 log_id(client_id_), info_.remote_address);
    return refuse(mqtt::connack_code::server_unavailable, close_reason::store_failure);
  }
  auto* link = b.linked();
  if (link != nullptr && !link->ready()) {
    // The other nodes cannot be told of this login (one link per key) nor send it messages.
    worker_.stats().connect_refused.fetch_add(1, std::memory_order_relaxed);
    if (auto n = refused_log.admit())
      spdlog::info("refused client={} addr={} code=3 why=the cluster link is down{}",
                   log_id(client_id_), info_.remote_address, suppressed_note(*n));
    return refuse(mqtt::connack_code::server_unavailable, close_reason::cluster_unavailable);
  }
  identity_ = std::get<std::shared_ptr<const client_identity>>(std::move(decision));
  if (p.will) {
    // A will is a PUBLISH sent later in this client's name: it is authorized now, on exactly
    // its topic, as that PUBLISH would be; a will it may not send refuses the CONNECT.
    if (b.policy().authorize_publish(*identity_, p.will->topic, p.will->qos) !=
        publish_verdict::allow) {
      worker_.stats().connect_refused.fetch_add(1, std::memory_order_relaxed);
      worker_.stats().will_denied.fetch_add(1, std::memory_order_relaxed);
      if (auto n = refused_log.admit())
        spdlog::info("refused client={} addr={} code=5 why=will topic {} not allowed{}",
                     log_id(client_id_), info_.remote_address, log_topic(p.will->topic),
                     suppressed_note(*n));
      return refuse(mqtt::connack_code::not_authorized, close_reason::auth_failed);
    }
  }
  if (identity_->session_key.empty() && client_id_.empty())
    more().assigned_key = assigned_client_id();
  if (p.will) {
    more().will = std::make_unique<mqtt::will_message>(*p.will);
    more_->will->qos = std::min(more_->will->qos, identity_->max_qos);
  }
  state_ = state::awaiting_session;
  if (link != nullptr && !clean_session_) {
    // Its session may be on another node: brought here first (docs/cluster.md).
    link->claim_session(session_key(), worker_.index(),
                        [w = &worker_, serial = serial_] { w->open_session_later(serial); });
    return;
  }
  if (link != nullptr)
    link->claimed(session_key());
  worker_.open_session(*this);
}

void client::handle(const mqtt::publish_packet& p) {
  auto& b = worker_.owner();
  if (p.qos > identity_->max_qos)
    return close(close_reason::protocol_error);
  worker_.stats().publish_in.fetch_add(1, std::memory_order_relaxed);
  const auto verdict = b.policy().authorize_publish(*identity_, p.topic, p.qos);
  if (verdict == publish_verdict::close) {
    worker_.stats().publish_denied.fetch_add(1, std::memory_order_relaxed);
    return close(close_reason::topic_denied);
  }
  if (verdict == publish_verdict::drop) {
    worker_.stats().publish_denied.fetch_add(1, std::memory_order_relaxed);
    if (auto n = denied_log.admit())
      spdlog::info("client={} publish to {} denied (topic_denied){}", log_id(client_id_),
                   log_topic(p.topic), suppressed_note(*n));
  }
  if (p.qos == 2) {
    auto& ids = session_->data().inbound_qos2;
    if (std::find(ids.begin(), ids.end(), p.packet_id) != ids.end()) {
      // A retry of a message already routed: acknowledge again (once stored), deliver once.
      if (more_ && std::any_of(more_->acks.begin(), more_->acks.end(),
                               [&](const owed_ack& a) { return a.packet_id == p.packet_id; }))
        return;
      return acknowledge(p.packet_id, 2);
    }
    if (ids.size() >= b.opts().max_inbound_qos2)
      return close(close_reason::protocol_error);
    ids.push_back(p.packet_id);
  }
  if (verdict == publish_verdict::allow) {
    const bool kept = p.retain && keep_retained(p.topic, p.payload, p.qos);
    auto* consumer = b.consumer();
    const std::uint8_t kind = consumer != nullptr ? consumer->classify(*identity_, p.topic) : 0;
    auto m = make_message(p.topic, p.payload, p.qos, false,
                          p.qos > 0 ? worker_.next_message_id() : 0, session_->id(), kind);
    if (kind != 0)
      consumer->consume(identity_, m); // e.g. the thing service, beside the routing below
    if (auto* link = b.linked())
      link->published(m, kept);
    const bool commit = b.ack_after_commit();
    if (p.qos > 0 && (commit || b.opts().overload == overload_mode::backpressure)) {
      publish_ack wait{serial_, (more_ ? more_->ack_seq : 0) + 1, nullptr, commit};
      worker_.route(m, &wait);
      if (wait.token) {
        // Acknowledged when the commits holding it are done and every subscriber queue that
        // held it past its bound has sent it (ack_ready).
        auto& x = more();
        x.acks.push_back({++x.ack_seq, p.packet_id, p.qos, false});
        return;
      }
    } else {
      worker_.route(m);
    }
  }
  if (p.qos > 0)
    acknowledge(p.packet_id, p.qos);
}

bool client::keep_retained(std::string_view topic, std::string_view payload, std::uint8_t qos) {
  auto& b = worker_.owner();
  if (!b.policy().may_retain(*identity_, topic)) {
    worker_.stats().retain_denied.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (!b.retained().set(make_message(topic, payload, qos, true))) {
    if (auto n = retained_log.admit())
      spdlog::warn("client={} retained message on {} not kept: the retained store is full "
                   "([limits] max_retained, max_retained_bytes){}",
                   log_id(client_id_), log_topic(topic), suppressed_note(*n));
  }
  return true;
}

void client::acknowledge(std::uint16_t packet_id, std::uint8_t qos) {
  if (acks_waiting() == 0) {
    if (qos == 1)
      return send(mqtt::puback_packet{packet_id});
    return send(mqtt::pubrec_packet{packet_id});
  }
  more_->acks.push_back({++more_->ack_seq, packet_id, qos, true});
}

void client::ack_ready(std::uint64_t ack_seq, bool ok) {
  if (state_ == state::closed)
    return;
  if (!ok) {
    spdlog::warn("client {}: a message it published could not be kept (the session store "
                 "failed, or queues are at offline_total_bytes): closing without acknowledging it",
                 log_id(client_id_));
    return close(close_reason::store_failure);
  }
  if (more_) {
    for (auto& a : more_->acks) {
      if (a.seq == ack_seq) {
        a.ready = true;
        break;
      }
    }
  }
  const bool was_waiting = waiting_for_acks();
  send_ready_acks();
  if (has_output())
    transport_.wake();
  if (was_waiting && !waiting_for_acks())
    transport_.resume_reading();
}

void client::send_ready_acks() {
  while (acks_waiting() != 0 && more_->acks.front().ready) {
    const auto a = more_->acks.front();
    more_->acks.pop_front();
    if (a.qos == 1)
      send(mqtt::puback_packet{a.packet_id});
    else
      send(mqtt::pubrec_packet{a.packet_id});
  }
}

void client::handle(const mqtt::puback_packet& p) {
  auto* m = session_->find_inflight(p.packet_id);
  if (m == nullptr || m->qos != 1)
    return;
  worker_.acked(*session_, *m);
  session_->erase_inflight(p.packet_id);
  session_->data().progress = last_rx_; // not a slow consumer (worker::sweep_congested)
  worker_.drain(*session_);
}

void client::handle(const mqtt::pubrec_packet& p) {
  if (auto* m = session_->find_inflight(p.packet_id); m != nullptr && m->qos == 2 && !m->released) {
    m->released = true;
    worker_.released(*session_, *m);
    if (m->seq == 0)
      m->msg.reset(); // the payload is not needed any more (stored: its id is)
  }
  send(mqtt::pubrel_packet{p.packet_id});
}

void client::handle(const mqtt::pubrel_packet& p) {
  if (!session_->has_data())
    return send(mqtt::pubcomp_packet{p.packet_id});
  auto& ids = session_->data().inbound_qos2;
  ids.erase(std::remove(ids.begin(), ids.end(), p.packet_id), ids.end());
  send(mqtt::pubcomp_packet{p.packet_id});
}

void client::handle(const mqtt::pubcomp_packet& p) {
  auto* m = session_->find_inflight(p.packet_id);
  if (m == nullptr || !m->released)
    return;
  worker_.acked(*session_, *m);
  session_->erase_inflight(p.packet_id);
  session_->data().progress = last_rx_; // not a slow consumer (worker::sweep_congested)
  worker_.drain(*session_);
}

void client::handle(const mqtt::pingreq_packet&) {
  send(mqtt::pingresp_packet{});
}

void client::handle(const mqtt::disconnect_packet&) {
  drop_will();
  close(close_reason::client_disconnect);
}

} // namespace thingport::broker
