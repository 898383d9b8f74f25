// thingport-load: the shared pieces of the load tool (options, one connection's state, the run's
// phases and the per-thread event loop). See bench/load/README.md for the scenarios.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <netinet/in.h>

#include "histogram.hpp"

namespace thingport::load {

enum class scenario { fanin, fanout, pairs, storm, idle };

struct device {
  std::string name, secret;
};

struct options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 1883;
  scenario kind = scenario::fanin;
  unsigned publishers = 10;    // fanin: N publishers; pairs: N pairs; fanout: 1
  unsigned subscribers = 100;  // fanout: N subscribers
  unsigned connections = 1000; // storm, idle
  unsigned qos = 0;
  std::size_t payload = 64; // bytes, at least the 24-byte stamp
  double rate = 0;          // total offered msg/s over all publishers; 0: as fast as possible
  double duration = 5;      // s of measured sending (after the warm-up)
  double warmup = 1;        // s of sending before measuring
  double hold = 3;          // idle: s to hold the connections
  unsigned threads = 1;
  unsigned inflight = 16;      // QoS 1 window per publisher
  unsigned burst = 16;         // unpaced: messages per publisher per write, at most
  unsigned outstanding = 5000; // QoS 0 unpaced: deliveries on their way, at most
  unsigned window = 256;       // connects in progress at once (all threads together)
  bool persistent = false;     // subscribers connect with cleanSession=0
  std::uint16_t keepalive = 300;
  std::string topic_prefix = "bench";
  std::string id_prefix;       // client id prefix; default from the pid
  std::string product_key;     // device mode when set
  std::vector<device> devices; // from --devices CSV
  int broker_pid = 0;
  std::string label;
  bool spread_sources = false; // bind sources over 127.0.0.2.. (forced beyond 28,000)
};

// The run's phases, driven by the main thread; event loops poll it.
enum class phase : int { connect, run, drain, done };

// What every thread shares: written by the main thread before a phase starts or as relaxed
// counters the main thread only watches.
struct shared_state {
  const options* opts = nullptr;
  sockaddr_in target{};
  std::atomic<int> current{static_cast<int>(phase::connect)};
  std::atomic<std::uint64_t> ready{0};  // connected (and subscribed)
  std::atomic<std::uint64_t> failed{0}; // connections that failed before ready
  std::atomic<std::uint64_t> sent{0};   // PUBLISHes written (any phase)
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> unacked{0}; // QoS 1 PUBLISHes awaiting PUBACK
  std::atomic<std::uint64_t> closed_early{0};
  std::atomic<std::uint64_t> t0_ns{0};           // run start (CLOCK_MONOTONIC ns)
  std::atomic<std::uint64_t> measure_from_ns{0}; // warm-up end
  std::atomic<std::uint64_t> send_until_ns{0};   // sending stops
  std::uint64_t total_publishers = 0;
  std::uint64_t fan = 1; // deliveries per message (fanout: the subscribers)
};

enum class role : std::uint8_t { publisher, subscriber, idle };
enum class conn_state : std::uint8_t { connecting, connack, suback, ready, closed };

struct connection {
  int fd = -1;
  role what = role::idle;
  conn_state state = conn_state::connecting;
  bool blocked = false;      // a write hit EAGAIN; waiting for EPOLLOUT
  std::uint32_t id = 0;      // publisher or subscriber number, or connection number
  std::uint32_t source = 0;  // 127.0.0.x source host byte (0: the kernel's choice)
  std::string connect_bytes; // the CONNECT, made before the storm starts
  std::string out;
  std::size_t out_off = 0;
  std::vector<std::uint8_t> in; // the tail of a partial packet
  std::uint64_t started_ns = 0;
  // publisher
  std::string topic;
  std::uint64_t seq = 0;
  std::uint32_t unacked = 0;
  std::uint16_t next_pid = 1;
  // subscriber
  std::string filter;
  std::uint32_t pub_base = 0;
  std::vector<std::vector<std::uint64_t>> seen; // a bitset of sequence numbers per publisher
  std::uint64_t got = 0, dups = 0, foreign = 0;
};

struct thread_result {
  histogram latency;           // send → receive, messages sent after the warm-up
  histogram connect;           // connect() → CONNACK (→ SUBACK for subscribers)
  std::uint64_t in_window = 0; // messages received while measuring
  std::uint64_t skipped = 0;   // paced sends not made: every publisher's window was full
  std::uint64_t first_connect_ns = 0, last_ready_ns = 0;
  std::vector<std::string> errors;
};

// One event loop thread with its connections.
class loop {
public:
  loop(shared_state& s, std::vector<connection> conns);
  loop(const loop&) = delete;
  loop& operator=(const loop&) = delete;
  ~loop();
  void run();
  const thread_result& result() const { return res_; }
  const std::vector<connection>& connections() const { return conns_; }

private:
  void start_connects(std::uint64_t now);
  void open(connection& c, std::uint64_t now);
  void on_event(connection& c, std::uint32_t events, std::uint64_t now);
  void on_connected(connection& c, std::uint64_t now);
  void read(connection& c);
  void handle(connection& c, std::span<const std::uint8_t> bytes, std::uint64_t now,
              std::size_t& used);
  void on_publish(connection& c, std::string_view payload, std::uint8_t qos, std::uint16_t pid,
                  std::uint64_t now);
  void flush(connection& c);
  void fail(connection& c, const std::string& why);
  void mark_ready(connection& c, std::uint64_t now);
  void publish(connection& c, std::uint64_t now);
  void pump(std::uint64_t now);
  bool can_publish(const connection& c) const;

  shared_state& s_;
  const options& o_;
  std::vector<connection> conns_;
  std::vector<std::uint32_t> publishers_;
  int ep_ = -1;
  std::size_t next_open_ = 0;
  std::size_t opening_ = 0; // connects in progress
  std::size_t window_ = 1;
  std::size_t rr_ = 0; // round robin over publishers when paced
  double my_rate_ = 0;
  std::uint64_t paced_ = 0;           // messages due so far from this thread
  std::uint64_t sent_ = 0, recv_ = 0; // not yet added to the shared counters
  std::int64_t unacked_ = 0;
  std::uint64_t t0_ = 0, measure_from_ = 0, send_until_ = 0; // copies, read once per run phase
  std::string payload_;
  thread_result res_;
};

std::uint64_t now_ns() noexcept;

} // namespace thingport::load
