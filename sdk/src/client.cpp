// The client's life, all on one strand:
//   run(): [wait backoff] -> connect_once() (transport + CONNECT/CONNACK under a deadline)
//          -> on_connected() (SUBSCRIBE, in-flight again with DUP, buffered publishes)
//          -> serve_link() (read, write and keepalive loops until one of them closes the link)
//          -> again, until stop().
// Per link (here): the transport, the read buffer, the ping state. What persists across links
// (subscriptions, the in-flight window, the offline buffer) is in session.cpp.
#include <algorithm>
#include <sstream>
#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "auth/credentials.hpp"
#include "client_impl.hpp"
#include "mqtt/serializer.hpp"

namespace thingport::device {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using clock_type = client::impl::clock_type;
constexpr auto token = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_write_batch = 64 * 1024;
constexpr auto stop_grace = std::chrono::seconds(2);
constexpr std::size_t max_filters_per_unsubscribe = 8; // as SUBSCRIBE: the platform's limit

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

client::impl::impl(asio::any_io_executor ex, options o, std::unique_ptr<asio::io_context> owned)
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

void client::impl::start(const std::shared_ptr<impl>& self) {
  asio::co_spawn(strand_, run(self), asio::detached);
  if (owned_)
    thread_ = std::thread([ctx = owned_.get()] { ctx->run(); });
}

void client::impl::stop_and_join(const std::shared_ptr<impl>& self) {
  asio::post(strand_, [self] { self->do_stop(); });
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id())
    thread_.join();
}

bool client::impl::wait_connected(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [this] { return connected_flag_; });
}

void client::impl::do_stop() {
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

asio::awaitable<void> client::impl::run(std::shared_ptr<impl> self) {
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
    forget_link();
    close_after_flush_ = false;
    last_error_ = ec;
    policy_.on_failure();
  }
  stop_timer_.cancel();
  fail_all();
  fail_unsubscribes();
  report(link_state::stopped, {});
  (void)self;
}

// An exception out of the loops (only std::bad_alloc is expected) ends this link, not the
// process.
asio::awaitable<std::error_code> client::impl::guarded(asio::awaitable<std::error_code> a) {
  try {
    co_return co_await std::move(a);
  } catch (const std::exception&) {
    co_return make_error_code(std::errc::not_enough_memory);
  }
}

asio::awaitable<std::error_code> client::impl::connect_once() {
  link_ = std::make_unique<detail::transport>(strand_, tls_);
  rbuf_.clear();
  bool timed_out = false;
  asio::steady_timer deadline(strand_, opts_.connect_timeout);
  auto result = co_await (handshake() || watchdog(deadline, timed_out));
  if (timed_out || result.index() == 1)
    co_return make_error_code(errc::connect_timeout);
  co_return std::get<0>(result);
}

asio::awaitable<void> client::impl::watchdog(asio::steady_timer& deadline, bool& timed_out) {
  auto [ec] = co_await deadline.async_wait(token);
  if (!ec) {
    timed_out = true;
    link_->close();
  }
}

asio::awaitable<std::error_code> client::impl::handshake() {
  co_return co_await detail::mqtt_handshake(*link_, url_, make_connect(), rbuf_, parse_opts_,
                                            session_present_);
}

mqtt::connect_packet client::impl::make_connect() const {
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

void client::impl::on_connected() {
  ping_outstanding_ = false;
  last_sent_ = clock_type::now();
  resubscribe_and_resend();
  resend_unsubscribes();
}

asio::awaitable<std::error_code> client::impl::serve_link() {
  link_error_.clear();
  co_await (read_loop() && write_loop() && keepalive_loop());
  co_return link_error_;
}

// First reason wins; closing the transport and waking the timers ends the other loops.
void client::impl::close_link(std::error_code why) {
  if (!link_error_)
    link_error_ = why;
  if (link_)
    link_->close();
  writer_wake_.cancel();
  ping_timer_.cancel();
}

asio::awaitable<void> client::impl::read_loop() {
  for (;;) {
    for (;;) {
      auto r = mqtt::parse(rbuf_.unread(), parse_opts_);
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
      rbuf_.consume(r.consumed);
    }
    if (auto ec = co_await rbuf_.fill(*link_)) {
      close_link(stopping_ ? std::error_code(errc::stopped) : ec);
      co_return;
    }
  }
}

asio::awaitable<void> client::impl::write_loop() {
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

asio::awaitable<void> client::impl::keepalive_loop() {
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

std::error_code client::impl::handle(const mqtt::packet& p) {
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
        } else if constexpr (std::is_same_v<P, mqtt::unsuback_packet>) {
          on_unsuback(pkt.packet_id);
        } else if constexpr (std::is_same_v<P, mqtt::pubrec_packet> ||
                             std::is_same_v<P, mqtt::pubcomp_packet>) {
          // we send no QoS 2: nothing to match, nothing to do
        } else {
          return make_error_code(errc::unexpected_packet); // e.g. a second CONNACK
        }
        return {};
      },
      p);
}

void client::impl::report(link_state s, std::error_code ec, std::chrono::milliseconds retry_in) {
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

void client::unsubscribe(std::vector<std::string> filters, completion done) {
  asio::post(impl_->strand_, [i = impl_, f = std::move(filters), d = std::move(done)]() mutable {
    i->do_unsubscribe(std::move(f), std::move(d));
  });
}

void client::unsubscribe_if(std::function<bool(std::string_view)> which, completion done) {
  asio::post(impl_->strand_, [i = impl_, w = std::move(which), d = std::move(done)]() mutable {
    i->do_unsubscribe_if(w, std::move(d));
  });
}

// -- unsubscribing (on the strand) --

void client::impl::do_unsubscribe_if(const std::function<bool(std::string_view)>& which,
                                     completion done) {
  std::vector<std::string> picked;
  for (const auto& [filter, s] : subs_)
    if (which(filter))
      picked.push_back(filter);
  do_unsubscribe(std::move(picked), std::move(done));
}

void client::impl::do_unsubscribe(std::vector<std::string> filters, completion done) {
  unsub_op op;
  for (auto& f : filters)
    if (subs_.erase(f) != 0)
      op.filters.push_back(std::move(f));
  if (op.filters.empty() || stopping_)
    return finish(done, op.filters.empty() ? errc::ok : errc::stopped, false);
  op.done = std::move(done);
  unsub_ops_.push_back(std::move(op));
  if (connected_)
    send_unsubscribe(unsub_ops_.back());
}

void client::impl::send_unsubscribe(unsub_op& op) {
  op.waiting.clear();
  // One subscribed again meanwhile stays: its SUBSCRIBE went after this UNSUBSCRIBE's first try.
  std::vector<std::string> gone;
  for (const auto& f : op.filters)
    if (!subs_.contains(f))
      gone.push_back(f);
  for (std::size_t at = 0; at < gone.size(); at += max_filters_per_unsubscribe) {
    mqtt::unsubscribe_packet u;
    u.packet_id = next_packet_id();
    for (std::size_t i = at; i < std::min(gone.size(), at + max_filters_per_unsubscribe); ++i)
      u.filters.push_back(gone[i]);
    op.waiting.push_back(u.packet_id);
    std::string bytes;
    mqtt::encode(u, bytes);
    enqueue(std::move(bytes));
  }
}

void client::impl::on_unsuback(std::uint16_t id) {
  for (auto it = unsub_ops_.begin(); it != unsub_ops_.end(); ++it) {
    auto w = std::find(it->waiting.begin(), it->waiting.end(), id);
    if (w == it->waiting.end())
      continue;
    it->waiting.erase(w);
    if (it->waiting.empty()) {
      completion done = std::move(it->done);
      unsub_ops_.erase(it);
      finish(done, errc::ok, false);
    }
    return;
  }
}

void client::impl::resend_unsubscribes() {
  for (auto it = unsub_ops_.begin(); it != unsub_ops_.end();) {
    send_unsubscribe(*it);
    if (!it->waiting.empty()) {
      ++it;
      continue;
    }
    completion done = std::move(it->done); // all of them subscribed again: nothing to send
    it = unsub_ops_.erase(it);
    finish(done, errc::ok, false);
  }
}

void client::impl::fail_unsubscribes() {
  auto ops = std::move(unsub_ops_);
  unsub_ops_.clear();
  for (auto& op : ops)
    finish(op.done, errc::stopped, false);
}

bool client::impl::unsub_waiting(std::uint16_t id) const {
  return std::any_of(unsub_ops_.begin(), unsub_ops_.end(), [id](const unsub_op& op) {
    return std::find(op.waiting.begin(), op.waiting.end(), id) != op.waiting.end();
  });
}

} // namespace thingport::device
