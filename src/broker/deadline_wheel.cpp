#include "broker/deadline_wheel.hpp"

namespace thingport::broker {

wheel_entry::~wheel_entry() {
  if (scheduled())
    unlink();
}

void wheel_entry::link_before(wheel_entry& head) noexcept {
  prev_ = head.prev_;
  next_ = &head;
  head.prev_->next_ = this;
  head.prev_ = this;
}

void wheel_entry::unlink() noexcept {
  prev_->next_ = next_;
  next_->prev_ = prev_;
  prev_ = next_ = this;
}

deadline_wheel::deadline_wheel(boost::asio::io_context& io) : timer_(io) {}

deadline_wheel::~deadline_wheel() {
  clear();
}

std::int64_t deadline_wheel::ceil_sec(clock::time_point t) noexcept {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch());
  return (ns.count() + 999'999'999) / 1'000'000'000;
}

std::int64_t deadline_wheel::floor_sec(clock::time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

void deadline_wheel::schedule(wheel_entry& e, clock::time_point at) {
  if (e.scheduled())
    e.unlink();
  e.at_ = at;
  if (!armed_) {
    next_sec_ = ceil_sec(clock::now());
    link(e);
    arm();
    return;
  }
  link(e);
}

void deadline_wheel::link(wheel_entry& e) {
  std::int64_t sec = ceil_sec(e.at_);
  if (sec < next_sec_)
    sec = next_sec_;
  e.link_before(heads_[static_cast<std::size_t>(sec) % slots]);
}

void deadline_wheel::cancel(wheel_entry& e) noexcept {
  if (e.scheduled())
    e.unlink();
}

bool deadline_wheel::empty() const noexcept {
  for (const auto& head : heads_)
    if (head.next_ != &head)
      return false;
  return true;
}

std::size_t deadline_wheel::size() const noexcept {
  std::size_t n = 0;
  for (const auto& head : heads_)
    for (const wheel_entry* e = head.next_; e != &head; e = e->next_)
      ++n;
  return n;
}

void deadline_wheel::clear() {
  timer_.cancel();
  armed_ = false;
  for (auto& head : heads_) {
    while (head.next_ != &head) {
      wheel_entry& e = *head.next_;
      cancel(e);
      e.dropped();
    }
  }
}

void deadline_wheel::arm() {
  armed_ = true;
  timer_.expires_at(clock::time_point(std::chrono::seconds(next_sec_)));
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec)
      return;
    tick();
  });
}

void deadline_wheel::tick() {
  const auto now = clock::now();
  const std::int64_t due_sec = floor_sec(now);
  // Each slot once: after a stall of more than `slots` seconds every slot is still checked.
  const std::int64_t first = next_sec_;
  std::int64_t last = due_sec;
  if (last - first >= static_cast<std::int64_t>(slots))
    last = first + static_cast<std::int64_t>(slots) - 1;
  next_sec_ = due_sec + 1; // what expire() schedules goes to a later tick
  sentinel batch;
  for (std::int64_t s = first; s <= last; ++s) {
    auto& head = heads_[static_cast<std::size_t>(s) % slots];
    if (head.next_ == &head)
      continue;
    // Move the slot's entries aside: expire() may schedule or cancel any entry.
    batch.prev_ = head.prev_;
    batch.next_ = head.next_;
    head.prev_->next_ = &batch;
    head.next_->prev_ = &batch;
    head.prev_ = head.next_ = &head;
    while (batch.next_ != &batch) {
      wheel_entry& e = *batch.next_;
      e.unlink();
      if (e.at_ <= now) {
        e.expire(now);
      } else {
        link(e); // a later turn of the wheel
      }
    }
  }
  armed_ = false;
  if (!empty())
    arm();
}

} // namespace thingport::broker
