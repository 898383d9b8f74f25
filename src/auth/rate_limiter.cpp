#include "auth/rate_limiter.hpp"

namespace thingport::auth {

connect_rate_limiter::connect_rate_limiter(options opts) : opts_(opts) {
  if (opts_.window <= clock::duration::zero()) {
    opts_.window = std::chrono::minutes(1);
  }
}

void connect_rate_limiter::advance(clock::time_point now) {
  if (!started_) {
    started_ = true;
    window_start_ = now;
    return;
  }
  if (now < window_start_ + opts_.window) {
    return;
  }
  if (now < window_start_ + 2 * opts_.window) {
    previous_ = std::move(current_);
    current_ = counts{};
    window_start_ += opts_.window;
  } else {
    previous_.clear();
    current_.clear();
    window_start_ = now;
  }
}

std::size_t connect_rate_limiter::size() const {
  const std::lock_guard lock(mutex_);
  return current_.size() + previous_.size();
}

bool connect_rate_limiter::allow(std::string_view key, clock::time_point now) {
  const std::lock_guard lock(mutex_);
  if (over(key, now))
    return false;
  count(key);
  return true;
}

bool connect_rate_limiter::blocked(std::string_view key, clock::time_point now) {
  const std::lock_guard lock(mutex_);
  return over(key, now);
}

void connect_rate_limiter::record(std::string_view key, clock::time_point now) {
  const std::lock_guard lock(mutex_);
  if (started_ && now < window_start_) {
    now = window_start_;
  }
  advance(now);
  count(key);
}

void connect_rate_limiter::count(std::string_view key) {
  if (const auto it = current_.find(key); it != current_.end()) {
    ++it->second;
  } else if (current_.size() < opts_.max_keys) {
    current_.emplace(std::string(key), 1U);
  }
}

bool connect_rate_limiter::over(std::string_view key, clock::time_point now) {
  if (started_ && now < window_start_) {
    now = window_start_;
  }
  advance(now);
  const auto it = current_.find(key);
  const std::uint64_t cur = it == current_.end() ? 0 : it->second;
  std::uint64_t prev = 0;
  if (const auto p = previous_.find(key); p != previous_.end()) {
    prev = p->second;
  }
  // estimate = prev * (window - elapsed) / window + cur, compared without division, in
  // milliseconds so that the products stay far below 2^64.
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  auto window = static_cast<std::uint64_t>(duration_cast<milliseconds>(opts_.window).count());
  auto elapsed =
      static_cast<std::uint64_t>(duration_cast<milliseconds>(now - window_start_).count());
  window = window == 0 ? 1 : window;
  elapsed = elapsed > window ? window : elapsed;
  const std::uint64_t weighted = prev * (window - elapsed) + cur * window;
  return weighted >= static_cast<std::uint64_t>(opts_.max_attempts) * window;
}

} // namespace thingport::auth
