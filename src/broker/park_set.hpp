// Idle plain-TCP links parked off Asio (memory per idle connection, docs/performance.md): a link
// with nothing to write and no recent input gives its socket back to the worker's own epoll set,
// so it holds neither Asio's per-socket reactor state (168 bytes, kept in a pool) nor a pending
// read operation (about 115 bytes). One shot: when the socket becomes readable (or hangs up),
// park_set tells the link (transport::parked_ready()), which takes the socket back into Asio
// and reads.
//
// Threads: the worker's own; every member runs on it but size().
#pragma once

#include <atomic>
#include <cstddef>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

namespace thingport::broker {

class transport; // told transport::parked_ready() (client.hpp)

class park_set {
public:
  explicit park_set(boost::asio::io_context& io);
  ~park_set();
  park_set(const park_set&) = delete;
  park_set& operator=(const park_set&) = delete;

  // Watches `fd` for input once, for `link` (which stays alive until remove() or its
  // parked_ready()). False: not parked (the caller keeps the socket in Asio).
  bool add(int fd, transport* link) noexcept;
  // No more watching `fd` (before it is taken back, or closed); nothing if it is not watched.
  void remove(int fd) noexcept;
  // Links parked now (any thread: the metrics read it).
  std::size_t size() const noexcept { return count_.load(std::memory_order_relaxed); }
  // Worker shutdown: the watch ends (parked links are closed by their clients).
  void stop() noexcept;

private:
  void arm();
  void ready();

  int epoll_ = -1;
  boost::asio::posix::stream_descriptor watch_;
  std::atomic<std::size_t> count_{0}; // written on the worker's thread only
  bool armed_ = false;
  bool stopped_ = false;
};

} // namespace thingport::broker
