// An MQTT 3.1.1 device client for thingport (and any MQTT broker): connects by URL over TCP, TLS,
// WebSocket or WSS, logs in with an Aliyun device triplet (docs/protocol.md "Logging in") or as a
// generic client, reconnects by itself, keeps the link alive, and delivers QoS 1 messages at least
// once.
//
// Thread model. Every client runs on one strand of an io_context:
//  - client(options): the client owns an io_context and one background I/O thread, started by
//    start() and joined by stop() or the destructor;
//  - client(executor, options): the caller owns the io_context and runs it on as many threads as
//    it likes (one thread for thousands of simulated devices is fine); the client makes its own
//    strand on that executor and starts no thread.
// All public member functions may be called from any thread. All callbacks (status, messages,
// completions) run on the client's strand, one at a time; they must not block. wait_connected()
// must not be called from a callback. With the caller's executor, the last callbacks (the
// `stopped` status, completions failed with errc::stopped) may run after ~client() returned: keep
// what they use alive until the io_context has run them (e.g. until its run() returns).
//
// Delivery. publish() with QoS 1 keeps the message until the server's PUBACK: at most
// options::inflight_window are unacknowledged at a time, the rest wait in the offline buffer
// (also used while disconnected; at most options::offline_buffer messages, then publish() fails
// with errc::buffer_full). After a reconnect the unacknowledged ones are sent again with DUP set,
// in their original order, before anything newer. QoS 0 messages also wait while disconnected.
//
// Reconnecting. After a failed attempt or a dropped link the client waits (reconnect_policy:
// exponential backoff with jitter, at most options::max_connects_per_minute attempts per minute)
// and tries again, until stop(). Every change is reported to the status callback with the reason
// (a CONNACK code, a transport error, a timeout) and the delay before the next attempt.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "thingport/device/error.hpp"

namespace thingport::device {

struct triplet {
  std::string product_key;
  std::string device_name;
  std::string device_secret;
};

struct options {
  std::string url = "mqtt://127.0.0.1:1883"; // see url.hpp
  // A device triplet: the client id, user name and password are made from it and signed
  // (docs/protocol.md "Logging in"). Empty product_key: a generic MQTT client using client_id,
  // username and password below as they are.
  triplet device;
  std::string client_id;                  // the <id> part for a device (empty: "pk.dn")
  std::string sign_method = "hmacsha256"; // hmacmd5, hmacsha1 or hmacsha256
  bool with_timestamp = true;             // put the connect time (ms) in the client id and sign
  bool ss = false;                        // _ss=1: the server delivers system topics unasked
  std::optional<std::string> username;    // generic clients only
  std::optional<std::string> password;    // generic clients only
  // TLS (mqtts, wss): the server certificate is checked against ca_file (PEM; empty: the
  // system's CAs) and the URL's host name or address, unless verify_peer is false.
  std::string ca_file;
  bool verify_peer = true;

  std::chrono::seconds keepalive{60}; // the platform accepts 30..1200
  bool clean_session = true;          // false: the server keeps subscriptions and QoS 1 messages
  std::size_t inflight_window = 16;   // unacknowledged QoS 1 publishes at a time
  std::size_t offline_buffer = 1000;  // publishes held while offline or beyond the window
  std::chrono::milliseconds connect_timeout{10000}; // transport handshake and CONNACK
  std::chrono::milliseconds backoff_initial{1000};
  std::chrono::milliseconds backoff_max{60000};
  unsigned max_connects_per_minute = 5; // the platform's limit; 0: none
};

enum class link_state : std::uint8_t { stopped, connecting, connected, waiting };

struct status {
  link_state state = link_state::stopped;
  // Why the last attempt failed or the link went down (empty when connected or after stop()).
  // A refused CONNECT: category connack_category(), value = the CONNACK code.
  std::error_code error;
  bool session_present = false;          // when connected
  unsigned failures = 0;                 // consecutive failed attempts
  std::chrono::milliseconds retry_in{0}; // when waiting: until the next attempt
  std::string describe() const;          // one line for logs
};

struct message {
  std::string_view topic;   // valid during the callback only
  std::string_view payload; // valid during the callback only
  std::uint8_t qos = 0;
  bool retain = false;
  bool dup = false;
};

// Counters, readable from any thread.
struct counters {
  std::atomic<std::uint64_t> attempts{0};  // connect attempts started
  std::atomic<std::uint64_t> connects{0};  // CONNACK 0 received
  std::atomic<std::uint64_t> published{0}; // PUBLISH packets written (retries included)
  std::atomic<std::uint64_t> acked{0};     // PUBACKs received for our QoS 1 publishes
  std::atomic<std::uint64_t> retried{0};   // QoS 1 publishes sent again with DUP
  std::atomic<std::uint64_t> received{0};  // PUBLISH packets received
  std::atomic<std::uint64_t> refused{0};   // publishes refused (buffer full, stopped)
};

class client {
public:
  using status_handler = std::function<void(const status&)>;
  using message_handler = std::function<void(const message&)>;
  using completion = std::function<void(std::error_code)>;
  // granted: 0 or 1, or 0x80 with ec == errc::subscribe_refused
  using suback_handler = std::function<void(std::error_code, int granted)>;

  // Owns an io_context and starts one I/O thread in start(). Throws std::invalid_argument for a
  // bad URL or sign method, std::runtime_error for an unreadable CA file.
  explicit client(options opts);
  // Runs on the caller's executor (the caller runs its io_context); starts no thread.
  client(boost::asio::any_io_executor executor, options opts);
  // stop(); joins the owned thread, if any.
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // Set handlers before start(). Status: every state change. Message: PUBLISHes no subscription
  // handler matched (e.g. delivered because of _ss=1).
  void on_status(status_handler h);
  void on_message(message_handler h);

  void start();
  // Sends DISCONNECT if connected, closes the link, stops reconnecting; buffered and
  // unacknowledged publishes fail with errc::stopped. Idempotent.
  void stop();

  // Subscribes now if connected and again after every reconnect. `h` gets the PUBLISHes that match
  // `filter`. A filter subscribed again replaces the earlier handler and QoS.
  void subscribe(std::string filter, std::uint8_t qos, message_handler h, suback_handler done = {});
  // Forgets the filters (later links do not subscribe them; their handlers are dropped) and
  // sends UNSUBSCRIBE (8 filters a packet) if connected. `done` runs once every UNSUBACK came,
  // at once when none of them was subscribed, or with errc::stopped. A link lost before the
  // UNSUBACK: the next link sends the UNSUBSCRIBE again (a persistent session still holds them).
  void unsubscribe(std::vector<std::string> filters, completion done = {});
  // The same for every subscribed filter `which` picks (a gateway: a logged-out sub-device's).
  void unsubscribe_if(std::function<bool(std::string_view filter)> which, completion done = {});
  // QoS 0 or 1. `done` runs when the PUBACK arrives (QoS 1), when the packet is queued on a live
  // link (QoS 0), or with an error (buffer_full, stopped, invalid_argument).
  void publish(std::string topic, std::string payload, std::uint8_t qos = 1, bool retain = false,
               completion done = {});

  // Blocks until connected or the timeout; false on timeout. Not from a callback.
  bool wait_connected(std::chrono::milliseconds timeout);

  const options& config() const noexcept;
  const counters& stats() const noexcept;
  // The strand all callbacks run on: post work here to touch state shared with callbacks.
  boost::asio::any_io_executor executor() const;

  class impl;

private:
  std::shared_ptr<impl> impl_;
  std::atomic<bool> started_{false};
};

} // namespace thingport::device
