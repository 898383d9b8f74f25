// The Asio driver of one client connection: reads into a per-thread scratch buffer (an idle
// connection holds no read buffer), feeds the broker's client, writes what it queues (one write
// carries everything queued since the last one), and arms one timer at the client's deadline.
// Lives on the worker that owns the socket; every member runs on that worker's thread.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "broker/client.hpp"
#include "broker/worker.hpp"

namespace thingport::net {

namespace asio = boost::asio;

// Shared by every connection of one thread: a read lands here and is fed to the client before
// the next read on this thread, so only a partial packet is ever copied out.
inline std::array<std::uint8_t, 65536>& read_scratch() {
  thread_local std::array<std::uint8_t, 65536> buf;
  return buf;
}

class tcp_connection final : public broker::transport,
                             public std::enable_shared_from_this<tcp_connection> {
public:
  tcp_connection(asio::ip::tcp::socket s, broker::worker& w, broker::transport_info info)
      : socket_(std::move(s)), worker_(w), timer_(w.io()), info_(std::move(info)) {}

  void start() {
    boost::system::error_code ec;
    socket_.set_option(asio::ip::tcp::no_delay(true), ec);
    socket_.non_blocking(true, ec);
    client_.emplace(worker_, *this, std::move(info_), broker::clock::now());
    arm_timer();
    // The socket's readiness edge may have passed before this connection existed (epoll is
    // edge-triggered and a wait is not speculative): read what is there now.
    on_readable({});
  }

  void wake() override {
    if (writing_ || closed_ || !client_ || client_->output().empty()) return;
    writing_ = true;
    write_buf_.swap(client_->output());
    asio::async_write(socket_, asio::buffer(write_buf_),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        self->on_write(ec);
                      });
  }

  void shutdown() override {
    if (closing_) return;
    closing_ = true;
    if (!writing_ && client_->output().empty()) return close_socket();
    wake();
    // A peer that never reads cannot hold the socket open: give the flush two seconds.
    timer_.expires_after(std::chrono::seconds(2));
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->close_socket();
    });
  }

  void resume_reading() override {
    if (in_feed_) return;  // on_readable() goes on reading when feed() returns
    asio::post(worker_.io(), [self = shared_from_this()] { self->continue_after_resume(); });
  }

private:
  void do_read() {
    if (closed_ || closing_) return;
    socket_.async_wait(asio::ip::tcp::socket::wait_read,
                       [self = shared_from_this()](boost::system::error_code ec) {
                         self->on_readable(ec);
                       });
  }

  void on_readable(boost::system::error_code ec) {
    if (closed_ || closing_) return;
    if (ec) return fail(ec);
    auto& scratch = read_scratch();
    const std::size_t n = socket_.read_some(asio::buffer(scratch), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) return do_read();
    if (ec) return fail(ec);
    feed({scratch.data(), n});
    if (!client_->closed() && !client_->paused()) do_read();
  }

  void feed(std::span<const std::uint8_t> fresh) {
    in_feed_ = true;
    const auto now = broker::clock::now();
    if (pending_.empty()) {
      const std::size_t used = client_->feed(fresh, now);
      pending_.assign(fresh.begin() + static_cast<std::ptrdiff_t>(used), fresh.end());
    } else {
      pending_.insert(pending_.end(), fresh.begin(), fresh.end());
      const std::size_t used = client_->feed(pending_, now);
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(used));
    }
    if (pending_.empty() && pending_.capacity() > 65536) pending_ = {};
    in_feed_ = false;
    if (!closing_ && client_->deadline() < timer_at_) arm_timer();
  }

  void continue_after_resume() {
    if (closed_ || closing_ || client_->closed() || client_->paused()) return;
    if (!pending_.empty()) feed({});
    if (!client_->closed() && !client_->paused()) on_readable({});
  }

  void arm_timer() {
    if (closing_) return;
    timer_at_ = client_->deadline();
    if (timer_at_ == broker::clock::time_point::max()) {
      timer_.cancel();
      return;
    }
    timer_.expires_at(timer_at_);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->closing_) return;
      self->client_->on_timer(broker::clock::now());
      if (!self->client_->closed()) self->arm_timer();
    });
  }

  void on_write(boost::system::error_code ec) {
    writing_ = false;
    write_buf_.clear();
    if (write_buf_.capacity() > 65536) write_buf_ = {};
    if (ec) {
      client_->on_transport_closed(broker::close_reason::io_error);
      return close_socket();
    }
    if (!client_->output().empty()) return wake();
    if (closing_) close_socket();
  }

  void fail(boost::system::error_code ec) {
    const bool peer = ec == asio::error::eof || ec == asio::error::connection_reset;
    client_->on_transport_closed(peer ? broker::close_reason::peer_closed
                                      : broker::close_reason::io_error);
    close_socket();
  }

  void close_socket() {
    if (closed_) return;
    closed_ = true;
    closing_ = true;
    boost::system::error_code ec;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    timer_.cancel();
  }

  asio::ip::tcp::socket socket_;
  broker::worker& worker_;
  asio::steady_timer timer_;
  broker::transport_info info_;
  std::optional<broker::client> client_;
  std::vector<std::uint8_t> pending_;  // bytes of a packet not complete yet
  std::string write_buf_;              // the write in progress
  broker::clock::time_point timer_at_ = broker::clock::time_point::max();
  bool writing_ = false;
  bool closing_ = false;
  bool closed_ = false;
  bool in_feed_ = false;
};

}  // namespace thingport::net
