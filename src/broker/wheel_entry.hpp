// An entry of a worker's deadline wheel (deadline_wheel.hpp), apart from the wheel: what every
// transport is (client.hpp), without the wheel's Asio timer.
#pragma once

#include <chrono>

namespace thingport::broker {

class deadline_wheel;

class wheel_entry {
public:
  wheel_entry() = default;
  wheel_entry(const wheel_entry&) = delete;
  wheel_entry& operator=(const wheel_entry&) = delete;

  // On a wheel's list (an unscheduled entry links to itself).
  bool scheduled() const noexcept { return next_ != this; }
  // When it expires, while scheduled().
  std::chrono::steady_clock::time_point at() const noexcept { return at_; }

  // The deadline passed; the entry is no longer scheduled (it may schedule itself again).
  virtual void expire(std::chrono::steady_clock::time_point now) = 0;
  // The wheel is going away with the entry still in it (worker destroyed).
  virtual void dropped() = 0;

protected:
  virtual ~wheel_entry();

private:
  friend class deadline_wheel;
  void link_before(wheel_entry& head) noexcept;
  void unlink() noexcept;

  // A circular list; a slot's head is a sentinel. No pointer to the wheel (memory per idle
  // connection): an entry stays on its worker's wheel, and only its unlinking needs the list.
  wheel_entry* prev_ = this;
  wheel_entry* next_ = this;
  std::chrono::steady_clock::time_point at_{};
};

} // namespace thingport::broker
