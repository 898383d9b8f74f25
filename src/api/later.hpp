// Answers that come later: a sync service call or an RRPC waits up to 8 s for the device, and
// the API's one thread must not wait with it. A handler that answers later calls defer() on the
// request's reply_slot (call::later) and returns anything (it is ignored); the answer comes
// through answerer() from any thread, or from the timeout on the API thread, whichever is
// first. The server's session waits for it (wait()) and writes it.
//
// Threads: everything but answerer()'s callable runs on the API thread. The callable may be
// called from any thread, once or more (later calls are ignored); it holds the slot weakly, so
// an answer for a request that is gone (server stopping) is dropped.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "api/http.hpp"

namespace thingport::api {

class reply_slot : public std::enable_shared_from_this<reply_slot> {
public:
  explicit reply_slot(boost::asio::io_context& io);
  reply_slot(const reply_slot&) = delete;
  reply_slot& operator=(const reply_slot&) = delete;

  // --- the handler ---
  // The answer comes later: from answerer(), or on_timeout() after `timeout` (nullopt: the
  // answer is on its way through answerer()). `cleanup` runs when the server stops before
  // either (e.g. to stop waiting for the device).
  void defer(std::chrono::milliseconds timeout, std::function<std::optional<response>()> on_timeout,
             std::function<void()> cleanup);
  std::function<void(response)> answerer();

  // --- the server ---
  bool deferred() const noexcept { return deferred_; }
  // The answer; nullopt when cancel() came first.
  boost::asio::awaitable<std::optional<response>> wait();
  // The server stops: no answer will be written.
  void cancel();

private:
  void finish(response r);

  boost::asio::io_context& io_;
  boost::asio::steady_timer wake_;
  boost::asio::steady_timer deadline_;
  std::optional<response> answer_;
  std::function<void()> cleanup_;
  bool deferred_ = false;
  bool done_ = false;
};

} // namespace thingport::api
