// A worker: one thread, one io_context, the sessions and connections it owns. Messages routed
// to sessions on other workers are batched and posted there (docs/threads.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "broker/close_reason.hpp"
#include "broker/counters.hpp"
#include "broker/message.hpp"
#include "broker/session.hpp"
#include "broker/topic_index.hpp"

namespace thingport::broker {

class broker;
class client;

struct delivery {
  subscriber_id id = 0;
  std::uint8_t qos = 0;
  std::uint8_t hops = 0;
  message_ptr msg;
};

class worker {
public:
  worker(broker& b, unsigned index);
  ~worker();
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  boost::asio::io_context& io() noexcept { return io_; }
  unsigned index() const noexcept { return index_; }
  broker& owner() noexcept { return broker_; }
  counters& stats() noexcept { return stats_; }
  const counters& stats() const noexcept { return stats_; }

  // --- on this worker's thread ---
  void add_client(client& c);
  void remove_client(client& c);
  // The CONNECT of `c` was accepted: find, take over or create its session. Calls c.attach()
  // now, or later when the session arrives from another worker.
  void open_session(client& c);
  // `c` is going away; its session stays (persistent) or is destroyed.
  void detach_session(client& c, session& s);

  void route(const message_ptr& m);
  void deliver(session& s, const message_ptr& m, std::uint8_t qos, bool retain);
  void drain(session& s);  // fills the in-flight window from the queue
  // Returns true when the filter is new to the session.
  bool subscribe(session& s, const std::string& filter, std::uint8_t qos);
  // Closes the connection of session `id` if it lives here (and deletes the session when
  // `discard`); forwards to the session's home worker otherwise.
  void disconnect_session(subscriber_id id, close_reason r, bool discard, std::uint8_t hops);
  bool unsubscribe(session& s, std::string_view filter);
  void deliver_retained(session& s, const std::string& filter, std::uint8_t granted);

  // Closes client `serial` if it is still here.
  void close_client(std::uint64_t serial, close_reason r);
  // Closes every client (server shutdown) and stops the io_context once they are gone.
  void shutdown();
  std::size_t session_count() const noexcept { return sessions_.size(); }
  std::size_t client_count() const noexcept { return clients_.size(); }

private:
  void handoff(subscriber_id id, unsigned to, std::uint64_t serial, bool keep);
  void adopt(std::uint64_t serial, std::unique_ptr<session> s);
  void create_session(client& c);
  void destroy_session(session& s);
  void deliver_batch(std::vector<delivery>& batch);
  void deliver_one(delivery& d);
  void flush_outbox();
  void stop_when_idle(std::chrono::steady_clock::time_point deadline);

  broker& broker_;
  unsigned index_;
  boost::asio::io_context io_{1};
  boost::asio::steady_timer stop_timer_{io_};
  std::unordered_map<subscriber_id, std::unique_ptr<session>> sessions_;
  std::unordered_map<std::uint64_t, client*> clients_;  // by serial
  std::vector<std::vector<delivery>> outbox_;           // per destination worker
  std::vector<subscriber_match> matches_;               // scratch for route()
  counters stats_;
  bool flush_posted_ = false;
  bool stopping_ = false;
};

}  // namespace thingport::broker
