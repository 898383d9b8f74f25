// One worker's connection deadlines (CONNECT timeout, keepalive, the flush bound of a closing
// connection) in 1-second buckets checked by one timer, instead of a timer and a pending wait per
// connection: an idle connection costs two pointers and a time point here, nothing in Asio.
// A deadline fires in the first tick at or after it: at most about a second late, never early.
// Entries are intrusive (the owner derives from wheel_entry) and unlink themselves when
// destroyed. On the worker's thread only.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "broker/wheel_entry.hpp"

namespace thingport::broker {

class deadline_wheel {
public:
  using clock = std::chrono::steady_clock;

  explicit deadline_wheel(boost::asio::io_context& io);
  ~deadline_wheel();
  deadline_wheel(const deadline_wheel&) = delete;
  deadline_wheel& operator=(const deadline_wheel&) = delete;

  // (Re)schedules `e` at `at` (a time already past fires at the next tick). An entry is on one
  // wheel at a time: it is never given to another while scheduled here.
  void schedule(wheel_entry& e, clock::time_point at);
  // Takes `e` off this wheel, when it is on it.
  void cancel(wheel_entry& e) noexcept;
  // Unlinks every entry and calls its dropped().
  void clear();
  // Entries scheduled (counted by walking the slots: for tests and checks, not hot paths).
  std::size_t size() const noexcept;

private:
  struct sentinel final : wheel_entry {
    void expire(clock::time_point) override {}
    void dropped() override {}
  };
  static constexpr std::size_t slots = 64;

  static std::int64_t ceil_sec(clock::time_point t) noexcept;
  static std::int64_t floor_sec(clock::time_point t) noexcept;
  void link(wheel_entry& e);
  bool empty() const noexcept;
  void arm();
  void tick();

  boost::asio::steady_timer timer_;
  std::array<sentinel, slots> heads_;
  std::int64_t next_sec_ = 0; // the next bucket to check; its tick is at next_sec_ seconds
  bool armed_ = false;
};

} // namespace thingport::broker
