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
#include "mqtt/packet.hpp"
#include "mqtt/parser.hpp"

namespace thingport::broker {

class worker;
class session;

// The client id given to a client that sent an empty one ("$auto/" and random hex); clients may
// not send ids that start with it.
inline constexpr std::string_view assigned_id_prefix = "$auto/";

using clock = std::chrono::steady_clock;

// What the driver does for the client. Implemented by net::connection.
class transport {
public:
  virtual void wake() = 0;           // output() is non-empty: write it out
  virtual void shutdown() = 0;       // write what is queued, then close the socket
  virtual void resume_reading() = 0; // a paused client can take input again
  virtual void parked_ready() {}     // parked (park_set.hpp): its socket has input
protected:
  ~transport() = default;
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

  std::string& output() noexcept { return out_; }
  bool closed() const noexcept { return state_ == state::closed; }
  bool awaiting_session() const noexcept { return state_ == state::awaiting_session; }
  // The driver reads no more until resume_reading(): waiting for the session, too many acks
  // owed, or closing as a slow consumer.
  bool paused() const noexcept {
    return state_ == state::awaiting_session || over_outbound_ || waiting_for_acks();
  }
  close_reason reason() const noexcept { return reason_; }
  const transport_info& info() const noexcept { return info_; }
  const std::string& client_id() const noexcept { return client_id_; }
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
  const std::string& session_key() const noexcept;
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
  std::uint64_t serial_;
  clock::time_point last_rx_; // before CONNECT: when the connection came (nothing is parsed)
  std::string client_id_;
  // "$auto/..." for an empty client id without an identity key (rare: 8 bytes, not 32).
  std::unique_ptr<const std::string> assigned_key_;
  std::shared_ptr<const client_identity> identity_;
  std::unique_ptr<mqtt::will_message> will_;              // most clients have none: 8 bytes, not 72
  bool online_ = false;                                   // attached once: on_offline owed
  bool over_outbound_ = false;                            // closing as slow_consumer
  clock::time_point close_at_ = clock::time_point::max(); // identity's close_after
  session* session_ = nullptr;
  std::string out_;
  // Acknowledgements owed in PUBLISH order; the front ones go out once ready (their commit done).
  struct owed_ack {
    std::uint64_t seq;
    std::uint16_t packet_id;
    std::uint8_t qos;
    bool ready;
  };
  // Made when an ack first must wait (memory per idle connection: 8 bytes, not 32).
  std::unique_ptr<boost::container::devector<owed_ack>> acks_;
  std::size_t acks_waiting() const noexcept { return acks_ ? acks_->size() : 0; }
  struct held_suback {
    mqtt::suback_packet ack;
    std::vector<mqtt::subscription> subs;
    bool ready = false;
  };
  std::unique_ptr<std::vector<held_suback>> held_subacks_; // only with a bridge, while waiting
  std::uint64_t ack_seq_ = 0;
};

} // namespace thingport::broker
