// The client's implementation, shared by its two source files:
//  - client.cpp: the link's life (connect with backoff, CONNECT/CONNACK, the read, write and
//    keepalive loops, the status reports) and the public client functions;
//  - session.cpp: what outlives a link (the offline buffer, the QoS 1 in-flight window resent
//    with DUP, subscriptions and their SUBACKs, packet ids) and the outbound packet queue.
// Everything below runs on strand_ unless its comment says otherwise.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "auth/sign.hpp"
#include "mqtt/packet.hpp"
#include "mqtt/parser.hpp"
#include "thingport/device/client.hpp"
#include "thingport/device/reconnect_policy.hpp"
#include "thingport/device/url.hpp"
#include "transport.hpp"

namespace thingport::device {

class client::impl : public std::enable_shared_from_this<impl> {
public:
  using clock_type = std::chrono::steady_clock;
  using executor_type = boost::asio::strand<boost::asio::any_io_executor>;

  impl(boost::asio::any_io_executor ex, options o, std::unique_ptr<boost::asio::io_context> owned);

  // -- public entry points (any thread) --
  void start(const std::shared_ptr<impl>& self);
  void stop_and_join(const std::shared_ptr<impl>& self);
  bool wait_connected(std::chrono::milliseconds timeout);

  options opts_;
  server_url url_;
  auth::sign_method method_ = auth::sign_method::hmacsha256;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::unique_ptr<boost::asio::io_context> owned_;
  std::thread thread_;
  executor_type strand_;
  counters stats_;
  status_handler on_status_;
  message_handler on_message_;

  struct outbound {
    std::string topic;
    std::string payload;
    std::uint8_t qos = 0;
    bool retain = false;
    completion done;
    std::uint16_t id = 0;
  };

  // -- strand entry points (session.cpp, but do_stop) --
  void do_publish(outbound o);
  void do_subscribe(std::string filter, std::uint8_t qos, message_handler h, suback_handler done);
  void do_unsubscribe(std::vector<std::string> filters, completion done); // (client.cpp)
  void do_unsubscribe_if(const std::function<bool(std::string_view)>& which, completion done);
  void do_stop();

private:
  struct sub_entry {
    std::uint8_t qos = 0;
    message_handler handler;
    suback_handler done;
  };

  // -- the connection loop (client.cpp) --
  boost::asio::awaitable<void> run(std::shared_ptr<impl> self);
  static boost::asio::awaitable<std::error_code> guarded(boost::asio::awaitable<std::error_code> a);
  boost::asio::awaitable<std::error_code> connect_once();
  boost::asio::awaitable<void> watchdog(boost::asio::steady_timer& deadline, bool& timed_out);
  boost::asio::awaitable<std::error_code> handshake();
  mqtt::connect_packet make_connect() const;

  // -- one established link (client.cpp) --
  void on_connected();
  boost::asio::awaitable<std::error_code> serve_link();
  void close_link(std::error_code why);
  boost::asio::awaitable<void> read_loop();
  boost::asio::awaitable<void> write_loop();
  boost::asio::awaitable<void> keepalive_loop();
  std::error_code handle(const mqtt::packet& p);
  void report(link_state s, std::error_code ec, std::chrono::milliseconds retry_in = {});

  // -- the session (session.cpp) --
  void on_publish(const mqtt::publish_packet& p);
  void on_puback(std::uint16_t id);
  void on_suback(const mqtt::suback_packet& p);
  void enqueue(std::string bytes);
  void enqueue_publish(const outbound& o, bool dup);
  void send_subscribe(const std::vector<std::string>& filters);
  void resubscribe_and_resend();
  void forget_link();
  void pump();
  std::uint16_t next_packet_id();
  void finish(const completion& done, errc e, bool refused);
  void fail_all();

  mqtt::parser_options parse_opts_;
  reconnect_policy policy_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> jitter_{0.0, 1.0};
  boost::asio::steady_timer wait_timer_;
  boost::asio::steady_timer writer_wake_;
  boost::asio::steady_timer ping_timer_;
  boost::asio::steady_timer stop_timer_;
  std::unique_ptr<detail::transport> link_;
  detail::read_buffer rbuf_;
  std::deque<std::string> outq_;
  bool stopping_ = false;
  bool connected_ = false;
  bool close_after_flush_ = false;
  bool session_present_ = false;
  bool ping_outstanding_ = false;
  clock_type::time_point last_sent_{};
  clock_type::time_point ping_sent_{};
  std::error_code last_error_;
  std::error_code link_error_;
  std::uint16_t last_id_ = 0;
  std::deque<outbound> pending_;
  std::deque<outbound> inflight_;
  std::map<std::string, sub_entry> subs_;
  // SUBSCRIBEs of the current link waiting for their SUBACK; forgotten when the link ends (the
  // filters are subscribed again on the next one).
  std::map<std::uint16_t, std::vector<std::string>> suback_wait_;
  // Unsubscribes not yet acknowledged (client.cpp): each waits for the UNSUBACKs of `waiting`
  // (packet ids on the current link); sent again on the next link if that one ends first.
  struct unsub_op {
    std::vector<std::string> filters;
    completion done;
    std::vector<std::uint16_t> waiting;
  };
  std::deque<unsub_op> unsub_ops_;
  void send_unsubscribe(unsub_op& op);
  void on_unsuback(std::uint16_t id);
  void resend_unsubscribes(); // a new link
  void fail_unsubscribes();   // stopped
  bool unsub_waiting(std::uint16_t id) const;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool connected_flag_ = false;
};

} // namespace thingport::device
