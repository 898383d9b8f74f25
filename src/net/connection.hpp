// The Asio driver of one client connection, over any of the four transports: a template over the
// stream type (plain socket, TLS stream, WebSocket over either), so no read or write goes through
// a virtual call and the plain TCP instance compiles to what a TCP-only driver would be.
//
// Plain TCP waits for readability, then reads without blocking into a per-thread scratch buffer
// (an idle connection holds no read buffer) and feeds the broker's client; only the tail of a
// partial packet is copied into the connection. TLS and WebSocket read into the connection's own
// buffer (4 KiB while idle, more while a large packet is incomplete): their reads complete
// asynchronously, so a shared scratch buffer cannot be used, and a TLS read must go through
// Asio's asynchronous operations to be safe beside a write in flight (a read may have to write,
// e.g. to answer a TLS 1.3 KeyUpdate). The TLS stream holds 34 KiB of buffers anyway. Over
// WebSocket, MQTT packets may span frames and frames may carry several packets.
// A plain TCP link with no input or output for a while is parked (broker/park_set.hpp): its
// socket leaves Asio for the worker's own epoll set until input comes or something must be
// written (memory per idle connection, docs/performance.md). "A while": its previous input (or
// write) was a second ago or more, so a busy link never parks, an idle device does right after
// its CONNACK and after each PINGREQ; woken by input, a link parks again once it is handled, at
// most 4 times a second (woken to write, only when it had been quiet).
// Writes carry everything queued since the last one. The client's deadline (and the flush bound
// of a closing connection) sits in the worker's deadline_wheel, which holds the connection alive
// meanwhile (on_wheel_: a reference of its own), as a pending timer wait would.
// Lives on the worker that owns the socket; every member runs on that worker's thread.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/smart_ptr/intrusive_ptr.hpp>

#include "broker/client.hpp"
#include "broker/worker.hpp"
#include "net/tls.hpp"

namespace thingport::net {

namespace asio = boost::asio;
namespace beast = boost::beast;

using tcp_stream = asio::ip::tcp::socket;
// A plain TCP link straight from the listener: its socket and every operation pending on it hold
// the io_context's executor (8 bytes), not an any_io_executor (56 bytes, copied into each
// pending read): memory per idle connection, docs/performance.md.
using plain_tcp_stream = asio::basic_stream_socket<asio::ip::tcp, asio::io_context::executor_type>;
using tls_stream = asio::ssl::stream<tcp_stream>;
using ws_stream = beast::websocket::stream<tcp_stream>;
using wss_stream = beast::websocket::stream<tls_stream>;

template <class Stream> struct transport_of;
template <> struct transport_of<tcp_stream> {
  static constexpr auto kind = broker::transport_kind::tcp;
};
template <> struct transport_of<plain_tcp_stream> {
  static constexpr auto kind = broker::transport_kind::tcp;
};
template <> struct transport_of<tls_stream> {
  static constexpr auto kind = broker::transport_kind::tls;
};
template <> struct transport_of<ws_stream> {
  static constexpr auto kind = broker::transport_kind::ws;
};
template <> struct transport_of<wss_stream> {
  static constexpr auto kind = broker::transport_kind::wss;
};

// Shared by every connection of one thread: a read lands here and is fed to the client before
// the next read on this thread, so only a partial packet is ever copied out.
inline std::array<std::uint8_t, 65536>& read_scratch() {
  thread_local std::array<std::uint8_t, 65536> buf;
  return buf;
}

struct no_tls_context {};
struct no_ws_state {};

template <class Stream> class connection final : public broker::transport {
  static constexpr auto kind = transport_of<Stream>::kind;
  static constexpr bool is_ws =
      kind == broker::transport_kind::ws || kind == broker::transport_kind::wss;
  static constexpr bool is_tls =
      kind == broker::transport_kind::tls || kind == broker::transport_kind::wss;
  static constexpr bool own_buffer = is_ws || is_tls; // reads into pending_, see above
  static constexpr bool can_park = !own_buffer;
  static constexpr std::uint8_t max_parks_per_second = 4;
  using tls_ref = std::conditional_t<is_tls, std::shared_ptr<tls_context>, no_tls_context>;

  // `info.kind` is set from the stream type. `tls` keeps the context of a TLS stream alive while
  // the connection uses it (a reload may replace the store's one meanwhile). The client is made
  // here, so that the connection keeps no moved-from copy of `info`.
  connection(Stream s, broker::worker& w, broker::transport_info info, tls_ref tls = {})
      : stream_(std::move(s)), tls_(std::move(tls)),
        client_(w, *this, (info.kind = kind, std::move(info)), broker::clock::now()) {}

public:
  // A new connection, held by the pointer returned (and by what start() leaves pending): only
  // on the heap, counted (see ref()).
  static boost::intrusive_ptr<connection> make(Stream s, broker::worker& w,
                                               broker::transport_info info, tls_ref tls = {}) {
    return boost::intrusive_ptr<connection>(
        new connection(std::move(s), w, std::move(info), std::move(tls)));
  }

  ~connection() {
    if (parked_fd_ >= 0) {
      worker().parked().remove(parked_fd_);
      ::close(parked_fd_);
    }
  }

  // Bytes already read off the stream while finding out what it carries (an `auto` listener
  // sniffing inside TLS); fed before anything else. Call before start().
  void preload(std::span<const std::uint8_t> bytes) { pend().assign(bytes.begin(), bytes.end()); }

  void start() {
    auto& sock = beast::get_lowest_layer(stream_);
    boost::system::error_code ec;
    sock.set_option(asio::ip::tcp::no_delay(true), ec);
    sock.non_blocking(true, ec);
    if constexpr (can_park) {
      v6_ = sock.local_endpoint(ec).address().is_v6();
      active_tick_ =
          static_cast<std::uint16_t>(tick_now() - 16); // the CONNECT comes to a quiet link
    }
    arm_timer();
    if (has_pending())
      feed({});
    if (!closing_ && !client_.paused())
      do_read();
  }

  void wake() override {
    if (writing_ || closed_ || goodbye_ || !client_.has_output())
      return;
    if constexpr (can_park) {
      if (parked_fd_ >= 0) {
        if (!take_back())
          return;
        if (!closing_ && !client_.paused())
          do_read();
      }
      if (touch())
        park_wanted_ = true;
    }
    writing_ = true;
    client_.take_output(write_buf_);
    auto done = [self = ref()](boost::system::error_code ec, std::size_t) { self->on_write(ec); };
    if constexpr (is_ws)
      stream_.async_write(asio::buffer(*write_buf_), std::move(done));
    else
      asio::async_write(stream_, asio::buffer(*write_buf_), std::move(done));
  }

  void shutdown() override {
    if (closing_)
      return;
    closing_ = true;
    const bool flush = writing_ || client_.has_output();
    if constexpr (!is_tls && !is_ws) {
      if (!flush)
        return close_socket();
    }
    // A peer that never reads cannot hold the socket open: flush and goodbye get two seconds
    // (up to a wheel tick more).
    schedule(broker::clock::now() + std::chrono::seconds(2));
    if (flush)
      return wake(); // on_write() says goodbye when the output is out
    goodbye();
  }

  void parked_ready() override {
    if constexpr (can_park) {
      if (parked_fd_ < 0 || !take_back()) // closed meanwhile, or could not be taken back
        return;
      park_wanted_ = true; // again once its input is handled (bounded: park())
      read_available();
    }
  }

  void resume_reading() override {
    if (in_feed_)
      return; // the read loop goes on when feed() returns
    asio::post(worker().io(), [self = ref()] { self->continue_after_resume(); });
  }

private:
  void do_read() {
    if (closing_)
      return;
    if constexpr (own_buffer) {
      // Small reads while idle; bigger ones while a large packet is being collected.
      auto& buf = pend();
      const std::size_t have = buf.size();
      const std::size_t chunk = std::clamp<std::size_t>(have, 4096, 65536);
      buf.resize(have + chunk);
      stream_.async_read_some(asio::buffer(buf.data() + have, chunk),
                              [self = ref(), have](boost::system::error_code ec, std::size_t n) {
                                self->on_read(ec, have, n);
                              });
    } else {
      if (parked_fd_ >= 0 || waiting_)
        return; // the park set or the pending wait tells when input comes
      waiting_ = true;
      beast::get_lowest_layer(stream_).async_wait(
          tcp_stream::wait_read, [self = ref(), gen = wait_gen_](boost::system::error_code ec) {
            if (gen != self->wait_gen_)
              return; // canceled by park(): the park set has the socket now (or had it)
            self->waiting_ = false;
            if (ec)
              return self->fail(ec);
            self->read_available();
          });
    }
  }

  // The steady clock in 1/16 s (mod 65536: a link quiet for a multiple of 68 minutes is taken
  // for a busy one once, and parks at its next input).
  static std::uint16_t tick_now() noexcept {
    using sixteenths = std::chrono::duration<std::int64_t, std::ratio<1, 16>>;
    return static_cast<std::uint16_t>(
        std::chrono::duration_cast<sixteenths>(broker::clock::now().time_since_epoch()).count());
  }

  // True when the previous input or write was a second ago or more (the link had been quiet;
  // start() makes the first one so).
  bool touch() noexcept {
    const auto now = tick_now();
    const bool quiet = static_cast<std::uint16_t>(now - active_tick_) >= 16;
    active_tick_ = now;
    return quiet;
  }

  // Hands the socket to the worker's park set. False when the link must stay in Asio (a write
  // in flight, closing, paused, a partial packet held, no deadline holding it alive): the caller
  // makes sure a read waits (do_read()). True: parked, or nothing more to do.
  bool park() {
    if constexpr (!can_park) {
      return false;
    } else {
      if (parked_fd_ >= 0 || closing_ || writing_ || !on_wheel_ || has_pending() ||
          client_.paused() || client_.has_output())
        return false;
      // A link woken from the park set parks again once it is done, but at most
      // max_parks_per_second times a second: a busy link stays in Asio.
      if (const auto now = static_cast<std::uint16_t>(tick_now() >> 4); now != park_second_) {
        park_second_ = now;
        parks_ = 0;
      }
      if (parks_ >= max_parks_per_second) {
        park_wanted_ = false;
        return false;
      }
      ++parks_;
      boost::system::error_code ec;
      ++wait_gen_; // a pending wait is canceled by release(): its handler must do nothing
      waiting_ = false;
      const int fd = stream_.release(ec);
      if (ec) {
        fail(ec);
        return true;
      }
      parked_fd_ = fd;
      write_buf_.reset(); // a parked link keeps no buffer (memory per idle connection)
      client_.release_output(0);
      if (!worker().parked().add(fd, this)) {
        if (take_back() && !client_.paused())
          do_read();
        return true;
      }
      park_wanted_ = false;
      return true;
    }
  }

  // The socket back into Asio from the park set; false when that failed (the link is closed).
  bool take_back() {
    if constexpr (!can_park) {
      return false;
    } else {
      const int fd = parked_fd_;
      parked_fd_ = -1;
      worker().parked().remove(fd); // nothing when it never got there
      boost::system::error_code ec;
      stream_.assign(v6_ ? asio::ip::tcp::v6() : asio::ip::tcp::v4(), fd, ec);
      if (!ec)
        stream_.non_blocking(true, ec);
      if (!ec)
        return true;
      if (!stream_.is_open())
        ::close(fd);
      fail(ec);
      return false;
    }
  }

  // Plain TCP, once readable. Bytes left in the socket make the next wait complete at once.
  void read_available() {
    if (closing_)
      return;
    auto& scratch = read_scratch();
    boost::system::error_code ec;
    const std::size_t n = stream_.read_some(asio::buffer(scratch), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again)
      return do_read();
    if (ec)
      return fail(ec);
    if (touch())
      park_wanted_ = true;
    feed({scratch.data(), n});
    if (!closing_ && !client_.paused() && !(park_wanted_ && park()))
      do_read();
  }

  // TLS and WebSocket: `n` bytes arrived behind the `have` already pending.
  void on_read(boost::system::error_code ec, std::size_t have, std::size_t n) {
    if (closing_)
      return;
    pend().resize(have + n);
    if (ec)
      return fail(ec);
    if constexpr (is_ws) {
      if (stream_.got_text()) { // MQTT travels in binary frames only
        ws_close_code_ = beast::websocket::close_code::unknown_data;
        return client_.close(broker::close_reason::protocol_error);
      }
    }
    feed({});
    if (!closing_ && !client_.paused())
      do_read();
  }

  void feed(std::span<const std::uint8_t> fresh) {
    in_feed_ = true;
    const auto now = broker::clock::now();
    if (!has_pending()) {
      const std::size_t used = client_.feed(fresh, now);
      if (used < fresh.size())
        pend().assign(fresh.begin() + static_cast<std::ptrdiff_t>(used), fresh.end());
    } else {
      auto& buf = *pending_;
      buf.insert(buf.end(), fresh.begin(), fresh.end());
      const std::size_t used = client_.feed(buf, now);
      buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(used));
    }
    // Plain TCP keeps only a partial packet's tail: none left, no buffer kept (memory per idle
    // connection). TLS and WebSocket read into it: their 4 KiB read area stays.
    if (pending_ && pending_->empty() && (!own_buffer || pending_->capacity() > 65536))
      pending_.reset();
    in_feed_ = false;
    if (!closing_ && client_.deadline() < armed_at())
      arm_timer();
  }

  void continue_after_resume() {
    if (closing_ || client_.closed() || client_.paused())
      return;
    if (has_pending())
      feed({});
    if (!closing_ && !client_.paused())
      do_read();
  }

  void arm_timer() {
    if (closing_)
      return;
    const auto at = client_.deadline();
    if (at == broker::clock::time_point::max()) {
      // No deadline holds it alive any more: a parked link goes back to a wait in Asio (whose
      // pending operation holds it).
      if (parked_fd_ >= 0 && take_back() && !client_.paused())
        do_read();
      return unschedule();
    }
    schedule(at);
  }

  void schedule(broker::clock::time_point at) {
    if (!on_wheel_) {
      on_wheel_ = true;
      intrusive_ptr_add_ref(this);
    }
    worker().wheel().schedule(*this, at);
  }

  // Off the wheel; the wheel's reference goes after this handler (the caller may hold none).
  void unschedule() {
    worker().wheel().cancel(*this);
    if (on_wheel_)
      asio::post(worker().io(), [gone = adopt()] {});
  }

  void expire(broker::clock::time_point now) override {
    const auto self = adopt(); // scheduled no more; alive until this returns
    if (closed_)
      return;
    if (closing_)
      return close_socket(); // the flush bound
    client_.on_timer(now);
    if (!client_.closed())
      arm_timer();
  }

  void dropped() override { adopt(); }

  // Handlers and the wheel hold the connection by an intrusive count (memory per idle
  // connection: no shared_ptr control block or weak self-reference, docs/performance.md).
  boost::intrusive_ptr<connection> ref() noexcept { return boost::intrusive_ptr<connection>(this); }
  // The wheel's reference, handed to the caller (null when not on the wheel).
  boost::intrusive_ptr<connection> adopt() noexcept {
    if (!on_wheel_)
      return {};
    on_wheel_ = false;
    return boost::intrusive_ptr<connection>(this, false);
  }
  friend void intrusive_ptr_add_ref(connection* c) noexcept {
    c->refs_.fetch_add(1, std::memory_order_relaxed);
  }
  friend void intrusive_ptr_release(connection* c) noexcept {
    if (c->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1)
      delete c;
  }
  broker::worker& worker() const noexcept { return client_.owner(); }

  void on_write(boost::system::error_code ec) {
    writing_ = false;
    write_buf_->clear();
    // Nothing more to write: an idle link keeps no buffer a burst grew (both the one written
    // and the client's, which wake() swapped); while output flows they are reused. A parked
    // link keeps neither (park()).
    if (write_buf_->capacity() > 65536 || (!client_.has_output() && write_buf_->capacity() > 256))
      write_buf_.reset();
    client_.release_output(257);
    if (ec) {
      closing_ = true; // nothing more to flush or say
      client_.on_transport_closed(broker::close_reason::io_error);
      return close_socket();
    }
    if (client_.has_output())
      return wake();
    if (closing_)
      return goodbye();
    if (park_wanted_ && !park() && !client_.paused())
      do_read(); // a no-op while a read waits already
  }

  // The transport's own closing handshake (TLS close_notify, WebSocket close frame), bounded by
  // the timer armed in shutdown(); then the socket is closed.
  void goodbye() {
    if (goodbye_ || closed_)
      return;
    goodbye_ = true;
    auto then_close = [self = ref()](boost::system::error_code) { self->close_socket(); };
    if constexpr (is_ws) {
      stream_.async_close(ws_close_code_, std::move(then_close));
    } else if constexpr (is_tls) {
      stream_.async_shutdown(std::move(then_close));
    } else {
      close_socket();
    }
  }

  void fail(boost::system::error_code ec) {
    if (closing_)
      return;
    closing_ = true; // the peer is gone or misbehaved: no flush, no goodbye
    client_.on_transport_closed(close_reason_for(ec));
    close_socket();
  }

  static broker::close_reason close_reason_for(boost::system::error_code ec) {
    namespace ws = beast::websocket;
    if (ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::ssl::error::stream_truncated || ec == ws::error::closed)
      return broker::close_reason::peer_closed;
    if (ec == ws::error::message_too_big || ec == ws::error::buffer_overflow)
      return broker::close_reason::payload_too_large;
    if (ec.category() == ws::make_error_code(ws::error::closed).category())
      return broker::close_reason::protocol_error;
    return broker::close_reason::io_error;
  }

  void close_socket() {
    if (closed_)
      return;
    closed_ = true;
    closing_ = true;
    if (parked_fd_ >= 0) {
      worker().parked().remove(parked_fd_);
      ::shutdown(parked_fd_, SHUT_RDWR);
      ::close(parked_fd_);
      parked_fd_ = -1;
    } else {
      auto& sock = beast::get_lowest_layer(stream_);
      boost::system::error_code ec;
      sock.shutdown(tcp_stream::shutdown_both, ec);
      sock.close(ec);
    }
    unschedule();
  }

  Stream stream_;
  [[no_unique_address]] tls_ref tls_;
  broker::client client_;
  // Bytes of a packet not complete yet (ws, tls: + the read area). Made when needed: a plain TCP
  // link keeps none between packets (memory per idle connection: 8 bytes, not 24).
  std::unique_ptr<std::vector<std::uint8_t>> pending_;
  bool has_pending() const noexcept { return pending_ && !pending_->empty(); }
  std::vector<std::uint8_t>& pend() {
    if (!pending_)
      pending_ = std::make_unique<std::vector<std::uint8_t>>();
    return *pending_;
  }
  std::unique_ptr<std::string> write_buf_; // the write in progress (then reused; see park())
  // The deadline armed on the wheel (the client's, or the flush bound once closing).
  broker::clock::time_point armed_at() const noexcept {
    return scheduled() ? at() : broker::clock::time_point::max();
  }
  // What a websocket link says when it closes; nothing on other streams (with the wheel entry's
  // 32 bytes, a plain TCP connection is 248 bytes: one allocator size class below 264).
  [[no_unique_address]] std::conditional_t<is_ws, beast::websocket::close_code, no_ws_state>
      ws_close_code_{};
  // Flags in bits (memory per idle connection); only this connection's worker touches them.
  bool writing_ : 1 = false;
  bool closing_ : 1 = false; // no more reads; flushing, saying goodbye or closed
  bool goodbye_ : 1 = false;
  bool closed_ : 1 = false;
  bool in_feed_ : 1 = false;
  bool waiting_ : 1 = false;     // plain TCP: a read wait is pending in Asio
  bool park_wanted_ : 1 = false; // quiet: park once nothing is in flight
  bool v6_ : 1 = false;          // the socket's protocol, to take it back into Asio
  bool on_wheel_ : 1 = false;    // the wheel holds a reference (a deadline is set)
  std::uint8_t wait_gen_ = 0;
  std::uint8_t parks_ = 0;        // in park_second_
  std::uint16_t active_tick_ = 0; // of the last input or write (touch())
  std::uint16_t park_second_ = 0xffff;
  int parked_fd_ = -1; // the socket while parked; -1: in Asio
  std::atomic<std::uint32_t> refs_{0};
};

} // namespace thingport::net
