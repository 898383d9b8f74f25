// The client's life, all on one strand:
//   run(): [wait backoff] -> connect_once() (transport + CONNECT/CONNACK under a deadline)
//          -> on_connected() (SUBSCRIBE, in-flight again with DUP, buffered publishes)
//          -> serve_link() (read, write and keepalive loops until one of them closes the link)
//          -> again, until stop().
// Persistent across links: subscriptions, the in-flight window, the offline buffer, the policy.
// Per link: the transport, the outbound packet queue, the read buffer, the ping state.
#include "thingport/device/client.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <span>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/websocket/error.hpp>

#include "auth/credentials.hpp"
#include "auth/sign.hpp"
#include "mqtt/parser.hpp"
#include "mqtt/serializer.hpp"
#include "mqtt/topic.hpp"
#include "thingport/device/reconnect_policy.hpp"
#include "thingport/device/url.hpp"
#include "transport.hpp"

namespace thingport::device {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using clock_type = std::chrono::steady_clock;
constexpr auto token = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_filters_per_subscribe = 8; // the platform's limit
constexpr std::size_t max_write_batch = 64 * 1024;
constexpr auto stop_grace = std::chrono::seconds(2);

std::string status::describe() const {
  std::ostringstream out;
  switch (state) {
  case link_state::stopped:
    out << "stopped";
    break;
  case link_state::connecting:
    out << "connecting";
    break;
  case link_state::connected:
    out << "connected" << (session_present ? " (session present)" : "");
    break;
  case link_state::waiting:
    out << "waiting " << retry_in.count() << " ms before attempt " << failures + 1;
    break;
  }
  if (error)
    out << " after error: " << error.message() << " [" << error.category().name() << ":"
        << error.value() << "]";
  return out.str();
}

class client::impl : public std::enable_shared_from_this<impl> {
public:
  impl(asio::any_io_executor ex, options o, std::unique_ptr<asio::io_context> owned)
      : opts_(std::move(o)), owned_(std::move(owned)), strand_(asio::make_strand(ex)),
        policy_(opts_.backoff_initial, opts_.backoff_max, opts_.max_connects_per_minute),
        rng_(std::random_device{}()), wait_timer_(strand_), writer_wake_(strand_),
        ping_timer_(strand_), stop_timer_(strand_) {
    auto u = parse_url(opts_.url);
    if (!u)
      throw std::invalid_argument("bad server URL: " + opts_.url);
    url_ = *u;
    auto m = auth::parse_sign_method(opts_.sign_method);
    if (!m)
      throw std::invalid_argument("bad sign method: " + opts_.sign_method);
    method_ = *m;
    if (opts_.keepalive.count() < 0 || opts_.keepalive.count() > 65535)
      throw std::invalid_argument("keepalive must be 0..65535 s");
    if (opts_.inflight_window == 0)
      opts_.inflight_window = 1;
    if (url_.secure())
      tls_ = detail::make_tls_context(opts_.ca_file, opts_.verify_peer);
    parse_opts_.side = mqtt::parser_options::role::client;
  }

  // -- public entry points (any thread) --

  void start(const std::shared_ptr<impl>& self) {
    asio::co_spawn(strand_, run(self), asio::detached);
    if (owned_)
      thread_ = std::thread([ctx = owned_.get()] { ctx->run(); });
  }

  void stop_and_join(const std::shared_ptr<impl>& self) {
    asio::post(strand_, [self] { self->do_stop(); });
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id())
      thread_.join();
  }

  bool wait_connected(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [this] { return connected_flag_; });
  }

  options opts_;
  server_url url_;
  auth::sign_method method_ = auth::sign_method::hmacsha256;
  std::shared_ptr<asio::ssl::context> tls_;
  std::unique_ptr<asio::io_context> owned_;
  std::thread thread_;
  asio::strand<asio::any_io_executor> strand_;
  counters stats_;
  status_handler on_status_;
  message_handler on_message_;

  // -- strand state --

  struct outbound {
    std::string topic;
    std::string payload;
    std::uint8_t qos = 0;
    bool retain = false;
    completion done;
    std::uint16_t id = 0;
  };
  struct sub_entry {
    std::uint8_t qos = 0;
    message_handler handler;
    suback_handler done;
  };

  void do_publish(outbound o) {
    if (stopping_)
      return finish(o.done, errc::stopped, true);
    if (o.qos > 1 || !mqtt::valid_topic_name(o.topic))
      return finish(o.done, errc::invalid_argument, true);
    if (pending_.size() >= opts_.offline_buffer)
      return finish(o.done, errc::buffer_full, true);
    pending_.push_back(std::move(o));
    pump();
  }

  void do_subscribe(std::string filter, std::uint8_t qos, message_handler h, suback_handler done) {
    if (qos > 1 || !mqtt::valid_topic_filter(filter)) {
      if (done)
        done(make_error_code(errc::invalid_argument), 0x80);
      return;
    }
    subs_[filter] = sub_entry{qos, std::move(h), std::move(done)};
    if (connected_)
      send_subscribe({filter});
  }

  void do_stop() {
    if (stopping_)
      return;
    stopping_ = true;
    wait_timer_.cancel();
    if (connected_ && link_) {
      std::string bytes;
      mqtt::encode(mqtt::disconnect_packet{}, bytes);
      outq_.push_back(std::move(bytes));
      close_after_flush_ = true;
      writer_wake_.cancel();
      // A server that does not read must not hold stop() up.
      stop_timer_.expires_after(stop_grace);
      stop_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec && self->link_)
          self->close_link(make_error_code(errc::stopped));
      });
    } else if (link_) {
      link_->close();
    }
  }

private:
  // -- the connection loop --

  asio::awaitable<void> run(std::shared_ptr<impl> self) {
    bool first = true;
    while (!stopping_) {
      if (!first) {
        const auto delay = policy_.next_delay(clock_type::now(), jitter_(rng_));
        report(link_state::waiting, last_error_, delay);
        wait_timer_.expires_after(delay);
        co_await wait_timer_.async_wait(token);
        if (stopping_)
          break;
      }
      first = false;
      policy_.on_attempt(clock_type::now());
      ++stats_.attempts;
      report(link_state::connecting, last_error_);
      std::error_code ec = co_await guarded(connect_once());
      if (ec) {
        link_->close();
        link_.reset();
        last_error_ = stopping_ ? std::error_code(errc::stopped) : ec;
        policy_.on_failure();
        continue;
      }
      policy_.on_success();
      ++stats_.connects;
      connected_ = true;
      last_error_.clear();
      report(link_state::connected, {});
      on_connected();
      ec = co_await guarded(serve_link());
      connected_ = false;
      link_.reset();
      outq_.clear();
      close_after_flush_ = false;
      last_error_ = ec;
      policy_.on_failure();
    }
    stop_timer_.cancel();
    fail_all();
    report(link_state::stopped, {});
    (void)self;
  }

  // An exception out of the loops (only std::bad_alloc is expected) ends this link, not the
  // process.
  static asio::awaitable<std::error_code> guarded(asio::awaitable<std::error_code> a) {
    try {
      co_return co_await std::move(a);
    } catch (const std::exception&) {
      co_return make_error_code(std::errc::not_enough_memory);
    }
  }

  asio::awaitable<std::error_code> connect_once() {
    link_ = std::make_unique<detail::transport>(strand_, tls_);
    rbuf_.clear();
    rpos_ = 0;
    bool timed_out = false;
    asio::steady_timer deadline(strand_, opts_.connect_timeout);
    auto result = co_await (handshake() || watchdog(deadline, timed_out));
    if (timed_out || result.index() == 1)
      co_return make_error_code(errc::connect_timeout);
    co_return std::get<0>(result);
  }

  asio::awaitable<void> watchdog(asio::steady_timer& deadline, bool& timed_out) {
    auto [ec] = co_await deadline.async_wait(token);
    if (!ec) {
      timed_out = true;
      link_->close();
    }
  }

  asio::awaitable<std::error_code> handshake() {
    if (auto ec = co_await link_->open(url_))
      co_return ec;
    std::string bytes;
    mqtt::encode(make_connect(), bytes);
    if (auto ec = co_await link_->write(asio::buffer(bytes)))
      co_return ec;
    for (;;) {
      auto r = mqtt::parse(unread(), parse_opts_);
      if (r.state == mqtt::parse_result::status::error)
        co_return r.ec;
      if (r.state == mqtt::parse_result::status::packet) {
        rpos_ += r.consumed;
        const auto* ack = std::get_if<mqtt::connack_packet>(&r.pkt);
        if (ack == nullptr)
          co_return make_error_code(errc::unexpected_packet);
        if (ack->code != mqtt::connack_code::accepted)
          co_return make_connack_error(static_cast<int>(ack->code));
        session_present_ = ack->session_present;
        co_return std::error_code{};
      }
      if (auto ec = co_await fill())
        co_return ec;
    }
  }

  mqtt::connect_packet make_connect() const {
    mqtt::connect_packet c;
    c.clean_session = opts_.clean_session;
    c.keepalive = static_cast<std::uint16_t>(opts_.keepalive.count());
    const auto& d = opts_.device;
    if (d.product_key.empty()) {
      c.client_id = opts_.client_id;
      c.username = opts_.username;
      c.password = opts_.password;
      return c;
    }
    const std::string ts = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count());
    auth::device_credential_options o;
    o.client_id = opts_.client_id;
    o.method = method_;
    o.securemode = url_.secure() ? 2 : 3;
    if (opts_.with_timestamp)
      o.timestamp = ts;
    o.ss = opts_.ss;
    auto cred = auth::device_credentials(d.product_key, d.device_name, d.device_secret, o);
    c.client_id = std::move(cred.client_id);
    c.username = std::move(cred.username);
    c.password = std::move(cred.password);
    return c;
  }

  // -- one established link --

  void on_connected() {
    ping_outstanding_ = false;
    last_sent_ = clock_type::now();
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

  asio::awaitable<std::error_code> serve_link() {
    link_error_.clear();
    co_await (read_loop() && write_loop() && keepalive_loop());
    co_return link_error_;
  }

  // First reason wins; closing the transport and waking the timers ends the other loops.
  void close_link(std::error_code why) {
    if (!link_error_)
      link_error_ = why;
    if (link_)
      link_->close();
    writer_wake_.cancel();
    ping_timer_.cancel();
  }

  asio::awaitable<void> read_loop() {
    for (;;) {
      for (;;) {
        auto r = mqtt::parse(unread(), parse_opts_);
        if (r.state == mqtt::parse_result::status::need_more)
          break;
        if (r.state == mqtt::parse_result::status::error) {
          close_link(r.ec);
          co_return;
        }
        if (auto ec = handle(r.pkt)) {
          close_link(ec);
          co_return;
        }
        rpos_ += r.consumed;
      }
      if (auto ec = co_await fill()) {
        close_link(stopping_ ? std::error_code(errc::stopped) : ec);
        co_return;
      }
    }
  }

  asio::awaitable<void> write_loop() {
    while (link_ && link_->is_open()) {
      if (outq_.empty()) {
        writer_wake_.expires_at(clock_type::time_point::max());
        co_await writer_wake_.async_wait(token);
        continue;
      }
      std::string batch = std::move(outq_.front());
      outq_.pop_front();
      while (!outq_.empty() && batch.size() + outq_.front().size() <= max_write_batch) {
        batch += outq_.front();
        outq_.pop_front();
      }
      if (auto ec = co_await link_->write(asio::buffer(batch))) {
        close_link(ec);
        co_return;
      }
      last_sent_ = clock_type::now();
      if (close_after_flush_ && outq_.empty()) {
        close_link(make_error_code(errc::stopped));
        co_return;
      }
    }
  }

  asio::awaitable<void> keepalive_loop() {
    const auto period = std::chrono::duration_cast<clock_type::duration>(opts_.keepalive);
    while (link_ && link_->is_open()) {
      if (period.count() == 0) {
        ping_timer_.expires_at(clock_type::time_point::max());
      } else {
        ping_timer_.expires_at((ping_outstanding_ ? ping_sent_ : last_sent_) + period);
      }
      co_await ping_timer_.async_wait(token);
      if (!link_ || !link_->is_open() || period.count() == 0)
        continue;
      const auto now = clock_type::now();
      if (ping_outstanding_) {
        if (now >= ping_sent_ + period) {
          close_link(make_error_code(errc::keepalive_timeout));
          co_return;
        }
      } else if (now >= last_sent_ + period) {
        std::string bytes;
        mqtt::encode(mqtt::pingreq_packet{}, bytes);
        enqueue(std::move(bytes));
        ping_outstanding_ = true;
        ping_sent_ = now;
      }
    }
  }

  std::error_code handle(const mqtt::packet& p) {
    return std::visit(
        [this](const auto& pkt) -> std::error_code {
          using P = std::decay_t<decltype(pkt)>;
          if constexpr (std::is_same_v<P, mqtt::publish_packet>) {
            on_publish(pkt);
          } else if constexpr (std::is_same_v<P, mqtt::puback_packet>) {
            on_puback(pkt.packet_id);
          } else if constexpr (std::is_same_v<P, mqtt::pubrel_packet>) {
            std::string bytes;
            mqtt::encode(mqtt::pubcomp_packet{pkt.packet_id}, bytes);
            enqueue(std::move(bytes));
          } else if constexpr (std::is_same_v<P, mqtt::suback_packet>) {
            on_suback(pkt);
          } else if constexpr (std::is_same_v<P, mqtt::pingresp_packet>) {
            ping_outstanding_ = false;
          } else if constexpr (std::is_same_v<P, mqtt::unsuback_packet> ||
                               std::is_same_v<P, mqtt::pubrec_packet> ||
                               std::is_same_v<P, mqtt::pubcomp_packet>) {
            // we send neither UNSUBSCRIBE nor QoS 2: nothing to match, nothing to do
          } else {
            return make_error_code(errc::unexpected_packet); // e.g. a second CONNACK
          }
          return {};
        },
        p);
  }

  void on_publish(const mqtt::publish_packet& p) {
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

  void on_puback(std::uint16_t id) {
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

  void on_suback(const mqtt::suback_packet& p) {
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

  void enqueue(std::string bytes) {
    outq_.push_back(std::move(bytes));
    writer_wake_.cancel();
  }

  void enqueue_publish(const outbound& o, bool dup) {
    std::string bytes;
    mqtt::encode_publish(bytes, o.topic, o.payload, o.qos, o.retain, dup && o.qos > 0, o.id);
    enqueue(std::move(bytes));
    ++stats_.published;
  }

  void send_subscribe(const std::vector<std::string>& filters) {
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
  void pump() {
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

  std::uint16_t next_packet_id() {
    for (int tries = 0; tries < 65536; ++tries) {
      if (++last_id_ == 0)
        last_id_ = 1;
      const auto id = last_id_;
      const bool used =
          suback_wait_.contains(id) || std::any_of(inflight_.begin(), inflight_.end(),
                                                   [id](const outbound& o) { return o.id == id; });
      if (!used)
        return id;
    }
    return last_id_; // unreachable: the window and SUBSCRIBEs in flight are far below 65535
  }

  void finish(const completion& done, errc e, bool refused) {
    if (refused)
      ++stats_.refused;
    if (done)
      done(make_error_code(e));
  }

  void fail_all() {
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

  // -- reading --

  std::span<const std::uint8_t> unread() const {
    return {reinterpret_cast<const std::uint8_t*>(rbuf_.data()) + rpos_, rbuf_.size() - rpos_};
  }

  asio::awaitable<std::error_code> fill() {
    if (rpos_ > 0) { // consumed packets leave; their views are dead by now
      rbuf_.erase(0, rpos_);
      rpos_ = 0;
    }
    const std::size_t old = rbuf_.size();
    rbuf_.resize(old + 4096);
    auto [ec, n] = co_await link_->read_some(asio::buffer(rbuf_.data() + old, 4096));
    rbuf_.resize(old + n);
    if (ec == std::error_code(boost::system::error_code(asio::error::eof)) ||
        ec == std::error_code(boost::system::error_code(boost::beast::websocket::error::closed)))
      co_return make_error_code(errc::connection_closed);
    co_return ec;
  }

  void report(link_state s, std::error_code ec, std::chrono::milliseconds retry_in = {}) {
    {
      std::lock_guard lock(mutex_);
      connected_flag_ = s == link_state::connected;
    }
    cv_.notify_all();
    if (!on_status_)
      return;
    status st;
    st.state = s;
    st.error = ec;
    st.session_present = s == link_state::connected && session_present_;
    st.failures = policy_.failures();
    st.retry_in = retry_in;
    on_status_(st);
  }

  mqtt::parser_options parse_opts_;
  reconnect_policy policy_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> jitter_{0.0, 1.0};
  asio::steady_timer wait_timer_;
  asio::steady_timer writer_wake_;
  asio::steady_timer ping_timer_;
  asio::steady_timer stop_timer_;
  std::unique_ptr<detail::transport> link_;
  std::string rbuf_;
  std::size_t rpos_ = 0;
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
  std::map<std::uint16_t, std::vector<std::string>> suback_wait_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool connected_flag_ = false;
};

client::client(options opts) {
  auto ctx = std::make_unique<asio::io_context>(1);
  auto ex = ctx->get_executor();
  impl_ = std::make_shared<impl>(ex, std::move(opts), std::move(ctx));
}

client::client(asio::any_io_executor executor, options opts)
    : impl_(std::make_shared<impl>(std::move(executor), std::move(opts), nullptr)) {}

client::~client() {
  stop();
  if (impl_->owned_) {
    // Run what was posted after the loop ended (or before start()), so no handler keeps the impl
    // (which owns the io_context) alive from inside the io_context.
    impl_->owned_->restart();
    impl_->owned_->run();
  }
}

void client::on_status(status_handler h) {
  impl_->on_status_ = std::move(h);
}
void client::on_message(message_handler h) {
  impl_->on_message_ = std::move(h);
}

void client::start() {
  if (started_.exchange(true))
    return;
  impl_->start(impl_);
}

void client::stop() {
  if (!started_.load())
    return;
  impl_->stop_and_join(impl_);
}

void client::subscribe(std::string filter, std::uint8_t qos, message_handler h,
                       suback_handler done) {
  asio::post(impl_->strand_, [i = impl_, f = std::move(filter), qos, h = std::move(h),
                              d = std::move(done)]() mutable {
    i->do_subscribe(std::move(f), qos, std::move(h), std::move(d));
  });
}

void client::publish(std::string topic, std::string payload, std::uint8_t qos, bool retain,
                     completion done) {
  impl::outbound o{std::move(topic), std::move(payload), qos, retain, std::move(done), 0};
  asio::post(impl_->strand_,
             [i = impl_, o = std::move(o)]() mutable { i->do_publish(std::move(o)); });
}

bool client::wait_connected(std::chrono::milliseconds timeout) {
  return impl_->wait_connected(timeout);
}

const options& client::config() const noexcept {
  return impl_->opts_;
}
const counters& client::stats() const noexcept {
  return impl_->stats_;
}
asio::any_io_executor client::executor() const {
  return impl_->strand_;
}

} // namespace thingport::device
