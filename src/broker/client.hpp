// One client connection's MQTT protocol logic, without I/O: bytes and time in, bytes to send and
// a close decision out. The net/ driver owns a client, feeds it what it reads, writes what it
// queues and arms one timer at deadline(). Lives on one worker; touched only by its thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/container/devector.hpp>

#include "broker/close_reason.hpp"
#include "broker/message.hpp"
#include "broker/policy.hpp"
#include "broker/wheel_entry.hpp"
#include "mqtt/packet.hpp"
#include "mqtt/parser.hpp"

namespace thingport::broker {

class worker;
class session;

// The client id given to a client that sent an empty one ("$auto/" and random hex); clients may
// not send ids that start with it.
inline constexpr std::string_view assigned_id_prefix = "$auto/";

using clock = std::chrono::steady_clock;

// What the driver does for the client. Implemented by net::connection. A transport is its
// worker's deadline wheel entry too (expire() at client::deadline()): one polymorphic base, so a
// connection carries one vtable pointer, not two (memory per idle link).
class transport : public wheel_entry {
public:
  virtual void wake() = 0;           // output() is non-empty: write it out
  virtual void shutdown() = 0;       // write what is queued, then close the socket
  virtual void resume_reading() = 0; // a paused client can take input again
  virtual void parked_ready() {}     // parked (park_set.hpp): its socket has input
protected:
  ~transport() override = default;
};

class client {
public:
  client(worker& w, transport& t, transport_info info, clock::time_point now);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // Processes complete packets from `in`; returns how many bytes were used. Stops early when the
  // client closes or pauses (waiting for its session to arrive from another worker).
  std::size_t feed(std::span<const std::uint8_t> in, clock::time_point now);
  // Connect timeout or keepalive expiry; the driver calls it at deadline().
  void on_timer(clock::time_point now);
  clock::time_point deadline() const noexcept;

  // The transport is gone (EOF, reset): the will is published, the session detached.
  void on_transport_closed(close_reason r);
  // Closes with `r`: will (unless a clean DISCONNECT), session detached, transport shut down.
  void close(close_reason r);

  // What is queued to write, made on first use (memory per idle connection: 8 bytes, not 32).
  std::string& output() { return out(); }
  bool has_output() const noexcept { return out_ && !out_->empty(); }
  // The driver takes the queued output to write it, leaving `spare` (its previous write
  // buffer, cleared, or null) to queue into.
  void take_output(std::unique_ptr<std::string>& spare) noexcept { out_.swap(spare); }
  // No output buffer kept while nothing is queued and its capacity is `from` or more.
  void release_output(std::size_t from) noexcept {
    if (out_ && out_->empty() && out_->capacity() >= from)
      out_.reset();
  }
  bool closed() const noexcept { return state_ == state::closed; }
  bool awaiting_session() const noexcept { return state_ == state::awaiting_session; }
  // The driver reads no more until resume_reading(): waiting for the session, too many acks
  // owed, or closing as a slow consumer.
  bool paused() const noexcept {
    return state_ == state::awaiting_session || over_outbound_ || waiting_for_acks();
  }
  close_reason reason() const noexcept { return reason_; }
  const transport_info& info() const noexcept { return info_; }
  std::string_view client_id() const noexcept { return client_id_.view(); }
  std::uint64_t serial() const noexcept { return serial_; }
  worker& owner() const noexcept { return worker_; }

  // Called by the worker.
  void attach(session& s, bool session_present);
  void send_publish(const message& m, std::uint8_t qos, bool retain, bool dup,
                    std::uint16_t packet_id);
  void send_pubrel(std::uint16_t packet_id);
  // Its credential may keep no more persistent sessions: CONNACK 5 and close.
  void refuse_session();
  // Another connection took the session: forget it and close (the will is published).
  void take_over();
  // The store committed (ok) or failed to commit what acknowledgement `ack_seq` waited for.
  // Acknowledgements go out in the order their PUBLISHes came in [MQTT-4.6.0-2].
  void ack_ready(std::uint64_t ack_seq, bool ok);
  // The bridge knows the interest SUBSCRIBE `packet_id` added: its SUBACK (and the SUBACKs
  // held behind it) go out, then the retained messages of its filters.
  void release_suback(std::uint16_t packet_id);
  // The identity's key (a device's "d|pk/dn"), else the client id, else the assigned id: a
  // reference to what the client holds anyway, not a copy per connection.
  std::string_view session_key() const noexcept;
  bool clean_session() const noexcept { return clean_session_; }
  // Null until its CONNECT is accepted.
  const std::shared_ptr<const client_identity>& identity() const noexcept { return identity_; }

private:
  enum class state : std::uint8_t { awaiting_connect, awaiting_session, connected, closed };

  void handle(const mqtt::connect_packet& p);
  void handle(const mqtt::publish_packet& p);
  void handle(const mqtt::puback_packet& p);
  void handle(const mqtt::pubrec_packet& p);
  void handle(const mqtt::pubrel_packet& p);
  void handle(const mqtt::pubcomp_packet& p);
  void handle(const mqtt::subscribe_packet& p);
  void handle(const mqtt::unsubscribe_packet& p);
  void handle(const mqtt::pingreq_packet& p);
  void handle(const mqtt::disconnect_packet& p);
  template <class P> void handle(const P&) { close(close_reason::protocol_error); }

  void send(const mqtt::packet& p);
  // What a packet may be: CONNECT's limits until it is accepted, then the PUBLISH limits.
  mqtt::parser_options parser_options() const noexcept;
  // Closes (posted) as slow_consumer once the unread output passes max_outbound_bytes.
  void check_outbound();
  // Too many inbound QoS 1/2 wait for their acknowledgement: read no more until some go out.
  bool waiting_for_acks() const noexcept;
  // A retained PUBLISH or will: kept when the policy and the retained store's limits allow.
  // False when the policy refused it.
  bool keep_retained(std::string_view topic, std::string_view payload, std::uint8_t qos);
  // PUBACK (QoS 1) or PUBREC (QoS 2) now, or behind the acknowledgements still waiting.
  void acknowledge(std::uint16_t packet_id, std::uint8_t qos);
  void send_ready_acks();
  void queued_output();
  void refuse(mqtt::connack_code code, close_reason r);
  // SUBACK of `p` now, or behind the SUBACKs held for the bridge; then its retained messages.
  void finish_subscribe(const mqtt::subscribe_packet& p, mqtt::suback_packet ack, bool hold);
  void send_suback(mqtt::suback_packet& ack, const std::vector<mqtt::subscription>& subs);
  void detach(bool publish_will);

  worker& worker_;
  transport& transport_;
  transport_info info_;
  state state_ = state::awaiting_connect;
  close_reason reason_ = close_reason::none;
  std::uint16_t keepalive_ = 0;
  bool clean_session_ = true;
  bool online_ = false;        // attached once: on_offline owed
  bool over_outbound_ = false; // closing as slow_consumer
  std::uint64_t serial_;
  clock::time_point last_rx_; // before CONNECT: when the connection came (nothing is parsed)
  compact_string client_id_;
  std::shared_ptr<const client_identity> identity_;
  session* session_ = nullptr;
  std::unique_ptr<std::string> out_; // see output()
  std::string& out() {
    if (!out_)
      out_ = std::make_unique<std::string>();
    return *out_;
  }
  // Acknowledgements owed in PUBLISH order; the front ones go out once ready (their commit done).
  struct owed_ack {
    std::uint64_t seq;
    std::uint16_t packet_id;
    std::uint8_t qos;
    bool ready;
  };
  struct held_suback {
    mqtt::suback_packet ack;
    std::vector<mqtt::subscription> subs;
    bool ready = false;
  };
  // What few links use, made on first use (memory per idle connection: 8 bytes, not 40).
  struct extras {
    std::string assigned_key; // "$auto/..." for an empty client id without an identity key
    std::unique_ptr<mqtt::will_message> will;
    boost::container::devector<owed_ack> acks;             // once an ack must wait
    std::vector<held_suback> held_subacks;                 // only with a bridge, while waiting
    clock::time_point close_at = clock::time_point::max(); // identity's close_after
    std::uint64_t ack_seq = 0;                             // the last owed ack's number (acks' seq)
  };
  std::unique_ptr<extras> more_;
  extras& more() {
    if (!more_)
      more_ = std::make_unique<extras>();
    return *more_;
  }
  mqtt::will_message* will() const noexcept { return more_ ? more_->will.get() : nullptr; }
  void drop_will() noexcept {
    if (more_)
      more_->will.reset();
  }
  clock::time_point close_at() const noexcept {
    return more_ ? more_->close_at : clock::time_point::max();
  }
  std::size_t acks_waiting() const noexcept { return more_ ? more_->acks.size() : 0; }
  bool holding_subacks() const noexcept { return more_ && !more_->held_subacks.empty(); }
};

} // namespace thingport::broker
