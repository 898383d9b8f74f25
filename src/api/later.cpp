#include "api/later.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace thingport::api {

namespace asio = boost::asio;

reply_slot::reply_slot(asio::io_context& io) : io_(io), wake_(io), deadline_(io) {}

void reply_slot::defer(std::chrono::milliseconds timeout,
                       std::function<std::optional<response>()> on_timeout,
                       std::function<void()> cleanup) {
  deferred_ = true;
  cleanup_ = std::move(cleanup);
  deadline_.expires_after(timeout);
  deadline_.async_wait(
      [self = shared_from_this(), f = std::move(on_timeout)](boost::system::error_code ec) {
        if (ec || self->done_)
          return;
        if (auto r = f())
          self->finish(std::move(*r));
      });
}

std::function<void(response)> reply_slot::answerer() {
  return [weak = weak_from_this(), &io = io_](response r) {
    asio::post(io, [weak, r = std::move(r)]() mutable {
      if (auto self = weak.lock())
        self->finish(std::move(r));
    });
  };
}

void reply_slot::finish(response r) {
  if (done_)
    return;
  done_ = true;
  answer_ = std::move(r);
  deadline_.cancel();
  wake_.cancel();
}

void reply_slot::cancel() {
  if (done_)
    return;
  done_ = true;
  if (cleanup_)
    cleanup_();
  deadline_.cancel();
  wake_.cancel();
}

asio::awaitable<std::optional<response>> reply_slot::wait() {
  if (!done_) {
    wake_.expires_at(asio::steady_timer::time_point::max());
    co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  co_return std::move(answer_);
}

} // namespace thingport::api
