// The simulator's end of a run, shared by its modes: stop() once, on SIGINT or SIGTERM, after
// the run's duration, or when the caller decides (every device done). On the io_context's one
// thread; construct before io.run().
#pragma once

#include <chrono>
#include <csignal>
#include <functional>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

namespace thingport::device::sim {

class run_stop {
public:
  // `duration` in seconds, 0: no limit. `on_stop` runs once, from stop().
  run_stop(boost::asio::io_context& io, double duration, std::function<void()> on_stop)
      : deadline_(io), signals_(io, SIGINT, SIGTERM), on_stop_(std::move(on_stop)) {
    signals_.async_wait([this](boost::system::error_code ec, int) {
      if (!ec)
        stop();
    });
    if (duration > 0) {
      deadline_.expires_after(std::chrono::milliseconds(static_cast<long>(duration * 1000)));
      deadline_.async_wait([this](boost::system::error_code ec) {
        if (!ec)
          stop();
      });
    }
  }
  run_stop(const run_stop&) = delete;
  run_stop& operator=(const run_stop&) = delete;

  void stop() {
    if (stopping_)
      return;
    stopping_ = true;
    deadline_.cancel();
    signals_.cancel();
    if (on_stop_)
      on_stop_();
  }

private:
  boost::asio::steady_timer deadline_;
  boost::asio::signal_set signals_;
  std::function<void()> on_stop_;
  bool stopping_ = false;
};

} // namespace thingport::device::sim
