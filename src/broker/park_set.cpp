#include "broker/park_set.hpp"

#include "broker/client.hpp"

#include <array>
#include <cerrno>

#include <sys/epoll.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

namespace thingport::broker {

park_set::park_set(boost::asio::io_context& io) : watch_(io) {
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_ < 0) {
    spdlog::warn("idle links are not parked: epoll_create1 failed (errno {})", errno);
    return;
  }
  boost::system::error_code ec;
  watch_.assign(::dup(epoll_), ec); // the watch closes its own copy
  if (ec) {
    spdlog::warn("idle links are not parked: {}", ec.message());
    ::close(epoll_);
    epoll_ = -1;
  }
}

park_set::~park_set() {
  boost::system::error_code ec;
  watch_.close(ec);
  if (epoll_ >= 0)
    ::close(epoll_);
}

bool park_set::add(int fd, transport* link) noexcept {
  if (epoll_ < 0 || stopped_)
    return false;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
  ev.data.ptr = link;
  if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0)
    return false;
  count_.store(count_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (!armed_)
    arm();
  return true;
}

void park_set::remove(int fd) noexcept {
  if (epoll_ < 0)
    return;
  if (::epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr) == 0)
    count_.store(count_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

void park_set::stop() noexcept {
  stopped_ = true;
  boost::system::error_code ec;
  watch_.cancel(ec);
}

void park_set::arm() {
  armed_ = true;
  watch_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                    [this](boost::system::error_code ec) {
                      armed_ = false;
                      if (ec || stopped_)
                        return;
                      ready();
                    });
}

void park_set::ready() {
  // One batch: what is left ready makes the set readable again (the kernel signals an epoll
  // set whose ready list a harvest left non-empty; park_set_test holds it to that).
  std::array<epoll_event, 128> events;
  const int n = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 0);
  // A link told may close another of this batch: it then removed itself (closed links are told
  // nothing: they check that they are still parked).
  for (int i = 0; i < n; ++i)
    static_cast<transport*>(events[static_cast<std::size_t>(i)].data.ptr)->parked_ready();
  if (count_.load(std::memory_order_relaxed) > 0 && !armed_ && !stopped_)
    arm();
}

} // namespace thingport::broker
