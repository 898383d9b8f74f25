// broker::drop_filters (a policy taking filters back from a session, e.g. a gateway's filters on a
// sub-device's topics when the sub-device logs out): the pick follows a session that keeps moving
// between workers until it lands, and on a real broker (a port-0 TCP listener, a real MQTT client
// over the socket, the SQLite session store) the filters it picks are gone from the live session,
// from the topic index and from the stored session after a restart, while the others stay.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "../../store/temp_dir.hpp"
#include "broker/broker.hpp"
#include "broker/client.hpp"
#include "mqtt/parser.hpp"
#include "mqtt/serializer.hpp"
#include "net/listener.hpp"
#include "null_transport.hpp"
#include "recording_store.hpp"
#include "store/session_sqlite.hpp"
#include "store/session_writer.hpp"

namespace tp = thingport;
namespace mqtt = tp::mqtt;
namespace store = tp::store;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

using namespace std::chrono_literals;

std::string bytes(const mqtt::packet& p) {
  std::string out;
  mqtt::encode(p, out);
  return out;
}

bool starts_with_a(const tp::broker::client_identity*, std::string_view filter) {
  return filter.starts_with("a/");
}

std::shared_ptr<tp::broker::anonymous_policy> anonymous() {
  return std::make_shared<tp::broker::anonymous_policy>(true, std::vector<std::string>{});
}

// ---- the chase: two workers polled by hand, one handler at a time -------------------------

using fake_transport = tp::broker::test::null_transport;

using tp::broker::test::recording_store;

struct fake_conn {
  fake_transport t;
  std::unique_ptr<tp::broker::client> c;
};

TEST(drop_filters, follows_a_session_that_keeps_moving_until_it_lands) {
  recording_store db;
  store::session_writer writer{db};
  writer.stop(); // submissions commit at once, on this thread
  tp::broker::options o;
  o.workers = 2;
  tp::broker::broker b{o, anonymous()};
  b.attach_store(writer, false);
  const auto t0 = tp::broker::clock::now();
  std::vector<std::unique_ptr<fake_conn>> conns;
  auto connect = [&](unsigned w) {
    auto c = std::make_unique<fake_conn>();
    c->c = std::make_unique<tp::broker::client>(b.at(w), c->t, tp::broker::transport_info{}, t0);
    mqtt::connect_packet p;
    p.client_id = "gw";
    p.clean_session = false;
    const auto s = bytes(p);
    c->c->feed({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}, t0);
    conns.push_back(std::move(c));
    return conns.back().get();
  };
  auto one = [&](unsigned w) {
    b.at(w).io().restart();
    return b.at(w).io().poll_one();
  };
  auto settle = [&] {
    for (bool ran = true; ran;)
      ran = one(0) + one(1) > 0;
  };

  auto* first = connect(0);
  const auto s = bytes(mqtt::subscribe_packet{1, {{"a/1", 1}, {"a/2", 0}, {"b/1", 1}}});
  first->c->feed({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}, t0);
  settle();
  ASSERT_EQ(b.sessions().live(), 1u);

  // A takeover is queued on worker 0, then the pick: the pick finds the session gone to 1.
  connect(1);
  b.drop_filters("gw", starts_with_a);
  unsigned at = 0;
  ASSERT_EQ(one(0), 1u); // the handoff: the session leaves for worker 1
  // Each round: a new connection asks the new home for the session before the chase arrives
  // there, so the chase always finds it gone; more rounds than the old bound of 4 hops.
  for (int round = 0; round < 10; ++round) {
    const unsigned next = 1 - at;
    connect(at);              // asks `next` (the home now) to hand it back to `at`
    ASSERT_EQ(one(at), 1u);   // the pick (or its chase) here: gone to `next`, follows it
    ASSERT_EQ(one(next), 1u); // the adopt
    ASSERT_EQ(one(next), 1u); // the next handoff, before the chase queued behind it
    EXPECT_TRUE(db.dropped().empty()) << "round " << round;
    at = next;
  }
  settle(); // the chase lands where the session stopped
  auto dropped = db.dropped();
  std::sort(dropped.begin(), dropped.end());
  EXPECT_EQ(dropped, (std::vector<std::string>{"a/1", "a/2"}));
  EXPECT_EQ(b.sessions().live(), 1u);
}

TEST(drop_filters, a_large_pick_is_spread_over_turns_of_the_worker) {
  recording_store db;
  store::session_writer writer{db};
  writer.stop();
  tp::broker::options o;
  o.workers = 1;
  tp::broker::broker b{o, anonymous()};
  b.attach_store(writer, false);
  const auto t0 = tp::broker::clock::now();
  fake_conn c;
  c.c = std::make_unique<tp::broker::client>(b.at(0), c.t, tp::broker::transport_info{}, t0);
  auto feed = [&](const mqtt::packet& p) {
    const auto s = bytes(p);
    c.c->feed({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}, t0);
  };
  mqtt::connect_packet p;
  p.client_id = "gw";
  p.clean_session = false;
  feed(p);
  for (std::uint16_t i = 0; i < 20; ++i) { // 600 of a/..., 20 of b/...
    mqtt::subscribe_packet sp{static_cast<std::uint16_t>(i + 1), {}};
    for (int j = 0; j < 30; ++j)
      sp.subscriptions.push_back({"a/" + std::to_string(i * 30 + j), 1});
    sp.subscriptions.push_back({"b/" + std::to_string(i), 1});
    feed(sp);
  }
  auto& io = b.at(0).io();
  io.restart();
  io.poll();
  b.drop_filters("gw", starts_with_a);
  // 600 in turns of 256: three turns (and the store's flushes), not one.
  std::size_t handlers = 0;
  for (io.restart(); io.poll_one() == 1; io.restart())
    ++handlers;
  EXPECT_GE(handlers, 3u);
  const auto dropped = db.dropped();
  EXPECT_EQ(dropped.size(), 600u);
  EXPECT_TRUE(std::all_of(dropped.begin(), dropped.end(),
                          [](const std::string& f) { return f.starts_with("a/"); }));
}

// ---- a real broker and a real client --------------------------------------------------------

// One broker "process": the session store file, its writer, the broker, a TCP listener on port 0.
struct node {
  store::sqlite_session_store db;
  store::session_writer writer{db};
  tp::broker::broker b;
  std::unique_ptr<tp::net::listener> l;

  explicit node(const std::filesystem::path& file) : db(file), b(options(), anonymous()) {
    auto n = b.restore(db);
    EXPECT_TRUE(n);
    b.attach_store(writer, true);
    writer.start();
    l = std::make_unique<tp::net::listener>(
        b, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), tp::net::listener_kind::tcp,
        std::make_shared<tp::net::transport_options>());
    b.start();
    l->start();
  }
  ~node() {
    l->stop();
    b.stop();
    writer.stop();
  }
  static tp::broker::options options() {
    tp::broker::options o;
    o.workers = 2;
    return o;
  }
  std::uint16_t port() const { return l->local_endpoint().port(); }
};

// A blocking MQTT 3.1.1 client over a real socket; every read is bounded by a deadline.
class mqtt_client {
public:
  mqtt_client(std::uint16_t port, const std::string& id, bool clean) {
    sock_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    mqtt::connect_packet p;
    p.client_id = id;
    p.clean_session = clean;
    p.keepalive = 60;
    send(p);
    bool ok = false;
    EXPECT_TRUE(next([&](const mqtt::packet& pkt) {
      if (const auto* a = std::get_if<mqtt::connack_packet>(&pkt))
        ok = a->code == mqtt::connack_code::accepted;
    }));
    EXPECT_TRUE(ok) << id;
  }
  void send(const mqtt::packet& p) { asio::write(sock_, asio::buffer(bytes(p))); }
  void subscribe(std::vector<std::string> filters) {
    mqtt::subscribe_packet s;
    s.packet_id = ++ids_;
    for (auto& f : filters)
      s.subscriptions.push_back({f, 0});
    send(s);
    bool acked = false;
    while (!acked && next([&](const mqtt::packet& pkt) {
      acked = std::holds_alternative<mqtt::suback_packet>(pkt);
    })) {
    }
    EXPECT_TRUE(acked);
  }
  void publish(const std::string& topic) {
    mqtt::publish_packet p;
    p.topic = topic;
    p.payload = "x";
    send(p);
  }
  // Topics of the PUBLISHes received up to and including `marker`; nullopt on the deadline.
  std::optional<std::vector<std::string>> until(const std::string& marker) {
    std::vector<std::string> got;
    bool seen = false;
    while (!seen) {
      if (!next([&](const mqtt::packet& pkt) {
            if (const auto* p = std::get_if<mqtt::publish_packet>(&pkt)) {
              got.emplace_back(p->topic);
              seen = p->topic == marker;
            }
          }))
        return std::nullopt;
    }
    return got;
  }

private:
  // Reads one whole packet (5 s at most) and passes it to `f`.
  template <class F> bool next(F&& f) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    mqtt::parser_options po;
    po.side = mqtt::parser_options::role::client;
    for (;;) {
      auto r = mqtt::parse({reinterpret_cast<const std::uint8_t*>(in_.data()), in_.size()}, po);
      if (r.state == mqtt::parse_result::status::packet) {
        f(r.pkt);
        in_.erase(0, r.consumed);
        return true;
      }
      if (r.state != mqtt::parse_result::status::need_more)
        return false;
      char buf[4096];
      std::size_t n = 0;
      bool done = false;
      sock_.async_read_some(asio::buffer(buf), [&](boost::system::error_code ec, std::size_t k) {
        n = ec ? 0 : k;
        done = true;
      });
      io_.restart();
      io_.run_until(deadline);
      if (!done) {
        sock_.cancel();
        io_.restart();
        io_.run();
        return false;
      }
      if (n == 0)
        return false;
      in_.append(buf, n);
    }
  }

  asio::io_context io_;
  tcp::socket sock_{io_};
  std::string in_;
  std::uint16_t ids_ = 0;
};

const std::vector<std::string> gw_filters = {"a/1", "a/+/x", "b/1"};

TEST(drop_filters, picked_filters_leave_the_session_the_index_and_the_store) {
  store::test::temp_dir dir;
  const auto file = dir.path() / "sessions.db";
  {
    node n(file);
    mqtt_client gw(n.port(), "gw", false);
    gw.subscribe(gw_filters);
    mqtt_client other(n.port(), "other", false);
    other.subscribe({"a/1"});
    mqtt_client pub(n.port(), "pub", true);

    pub.publish("a/1");
    pub.publish("a/z/x");
    pub.publish("b/1");
    EXPECT_EQ(gw.until("b/1"), (std::vector<std::string>{"a/1", "a/z/x", "b/1"}));
    EXPECT_EQ(other.until("a/1"), (std::vector<std::string>{"a/1"}));

    n.b.drop_filters("gw", starts_with_a);
    // The pick runs on the session's worker: publish until a round arrives without a/...
    bool gone = false;
    for (int round = 0; round < 50 && !gone; ++round) {
      pub.publish("a/1");
      pub.publish("a/z/x");
      pub.publish("b/1");
      auto got = gw.until("b/1");
      ASSERT_TRUE(got);
      gone = *got == std::vector<std::string>{"b/1"};
      ASSERT_TRUE(gone || got->size() == 3) << "a pick is applied whole, between two routes";
      EXPECT_TRUE(other.until("a/1")); // the other session's a/1 stays
    }
    EXPECT_TRUE(gone);
    // Subscribing again is new to the live session (its filter list lost them): the SUBACK
    // comes, and a/1 arrives again; then the same pick takes them again.
    gw.subscribe({"a/1"});
    pub.publish("a/1");
    pub.publish("b/1");
    EXPECT_EQ(gw.until("b/1"), (std::vector<std::string>{"a/1", "b/1"}));
    n.b.drop_filters("gw", starts_with_a);
    for (bool again = false; !again;) {
      pub.publish("a/1");
      pub.publish("b/1");
      auto got = gw.until("b/1");
      ASSERT_TRUE(got);
      again = *got == std::vector<std::string>{"b/1"};
    }
  } // the broker stops; the writer commits what the workers wrote
  {
    node n(file); // restored from the session store
    mqtt_client pub(n.port(), "pub", true);
    mqtt_client gw(n.port(), "gw", false);
    mqtt_client other(n.port(), "other", false);
    pub.publish("a/1");
    pub.publish("a/z/x");
    pub.publish("b/1");
    EXPECT_EQ(gw.until("b/1"), (std::vector<std::string>{"b/1"}));
    EXPECT_EQ(other.until("a/1"), (std::vector<std::string>{"a/1"}));
  }
}

} // namespace
