// Sessions moving between nodes (broker::surrender_session, broker::absorb_session), two brokers
// in one process with their workers polled by hand: the one that held a persistent session gives
// it up (its link closed, its subscriptions, its unacknowledged messages in order, its store rows
// deleted), and the other adds it (stored there, new message ids) so that its client, logging
// in there, gets session present and the messages.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "broker/broker.hpp"
#include "broker/client.hpp"
#include "client_output.hpp"
#include "mqtt/serializer.hpp"
#include "null_transport.hpp"
#include "recording_store.hpp"
#include "store/session_writer.hpp"

namespace tp = thingport;
namespace mqtt = tp::mqtt;
namespace store = tp::store;

namespace {

struct fake_transport final : tp::broker::test::null_transport {
  void shutdown() override { closed = true; }
  bool closed = false;
};

using tp::broker::test::recording_store;

// One broker with a recording store; its workers run only when settle() polls them.
struct node {
  recording_store db;
  store::session_writer writer{db};
  tp::broker::broker b;
  std::vector<std::unique_ptr<fake_transport>> transports;
  std::vector<std::unique_ptr<tp::broker::client>> clients;

  explicit node(unsigned workers) : b(options(workers), policy()) {
    writer.stop(); // submissions commit at once, on the submitting thread
    b.attach_store(writer, false);
  }
  static tp::broker::options options(unsigned workers) {
    tp::broker::options o;
    o.workers = workers;
    return o;
  }
  static std::shared_ptr<tp::broker::anonymous_policy> policy() {
    return std::make_shared<tp::broker::anonymous_policy>(true, std::vector<std::string>{});
  }
  void settle() {
    for (bool ran = true; ran;) {
      ran = false;
      for (unsigned w = 0; w < b.worker_count(); ++w) {
        b.at(w).io().restart();
        ran = b.at(w).io().poll() > 0 || ran;
      }
    }
  }
  tp::broker::client& connect(const std::string& id, bool clean, unsigned worker = 0) {
    transports.push_back(std::make_unique<fake_transport>());
    clients.push_back(std::make_unique<tp::broker::client>(
        b.at(worker), *transports.back(), tp::broker::transport_info{}, tp::broker::clock::now()));
    mqtt::connect_packet p;
    p.client_id = id;
    p.clean_session = clean;
    feed(*clients.back(), p);
    settle();
    return *clients.back();
  }
  void feed(tp::broker::client& c, const mqtt::packet& p) {
    std::string s;
    mqtt::encode(p, s);
    c.feed({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}, tp::broker::clock::now());
    settle();
  }
};

// What a client was sent, copied out of its output buffer (a packet's views point into it).
struct sent {
  bool connack = false;
  bool session_present = false;
  bool publish = false;
  std::string topic;
  std::string payload;
};

std::vector<sent> packets(tp::broker::client& c) {
  std::vector<sent> out;
  tp::broker::test::drain_packets(c.output(), [&](const mqtt::packet& p) {
    sent s;
    if (const auto* a = std::get_if<mqtt::connack_packet>(&p)) {
      s.connack = true;
      s.session_present = a->session_present;
    } else if (const auto* m = std::get_if<mqtt::publish_packet>(&p)) {
      s.publish = true;
      s.topic = std::string(m->topic);
      s.payload = std::string(m->payload);
    }
    out.push_back(std::move(s));
  });
  return out;
}

TEST(session_move, a_session_leaves_one_node_and_is_found_on_the_other) {
  node a(2), b(2);
  // On A: a persistent client subscribes and leaves; three QoS 1 messages are queued for it.
  auto& first = a.connect("p", false);
  a.feed(first, mqtt::subscribe_packet{1, {{"t/#", 1}, {"u", 0}}});
  a.feed(first, mqtt::disconnect_packet{});
  auto& pub = a.connect("pub", true, 1);
  for (std::uint16_t i = 1; i <= 3; ++i)
    a.feed(pub, mqtt::publish_packet{"t/" + std::to_string(i), "m" + std::to_string(i), 1, false,
                                     false, i});
  // A gives it up.
  std::shared_ptr<tp::broker::session_snapshot> got;
  bool called = false;
  a.b.surrender_session("p", tp::broker::close_reason::taken_over_elsewhere,
                        [&](std::shared_ptr<tp::broker::session_snapshot> s) {
                          called = true;
                          got = std::move(s);
                        });
  a.settle();
  ASSERT_TRUE(called);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->key, "p");
  EXPECT_EQ(got->subscriptions, (std::vector<mqtt::subscription>{{"t/#", 1}, {"u", 0}}));
  ASSERT_EQ(got->messages.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(got->messages[i].topic, "t/" + std::to_string(i + 1));
    EXPECT_EQ(got->messages[i].payload, "m" + std::to_string(i + 1));
    EXPECT_EQ(got->messages[i].qos, 1);
  }
  EXPECT_EQ(a.b.find_session("p"), 0u); // gone from A
  EXPECT_EQ(a.db.count<store::delete_session>(), 1u);
  // A second claim finds nothing.
  bool none = false;
  a.b.surrender_session("p", tp::broker::close_reason::taken_over_elsewhere,
                        [&](std::shared_ptr<tp::broker::session_snapshot> s) { none = !s; });
  a.settle();
  EXPECT_TRUE(none);

  // B adds it, stored there, and its client logging in on B finds it.
  bool then = false;
  b.b.absorb_session(got, 1, [&](bool) { then = true; });
  b.settle();
  EXPECT_TRUE(then);
  EXPECT_NE(b.b.find_session("p"), 0u);
  EXPECT_EQ(b.db.count<store::put_session>(), 1u);
  EXPECT_EQ(b.db.count<store::put_subscription>(), 2u);
  EXPECT_EQ(b.db.count<store::put_entry>(), 3u);
  auto& back = b.connect("p", false);
  const auto out = packets(back);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_TRUE(out[0].connack && out[0].session_present);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(out[i + 1].publish);
    EXPECT_EQ(out[i + 1].topic, "t/" + std::to_string(i + 1));
    EXPECT_EQ(out[i + 1].payload, "m" + std::to_string(i + 1));
  }
}

TEST(session_move, an_online_client_is_closed_and_its_unacknowledged_messages_go_along) {
  node a(1), b(1);
  auto& first = a.connect("p", false);
  a.feed(first, mqtt::subscribe_packet{1, {{"t", 1}}});
  (void)packets(first);
  auto& pub = a.connect("pub", true);
  a.feed(pub, mqtt::publish_packet{"t", "x", 1, false, false, 1});
  ASSERT_EQ(packets(first).size(), 1u); // sent, not acknowledged
  std::shared_ptr<tp::broker::session_snapshot> got;
  a.b.surrender_session("p", tp::broker::close_reason::taken_over_elsewhere,
                        [&](std::shared_ptr<tp::broker::session_snapshot> s) { got = s; });
  a.settle();
  EXPECT_TRUE(a.transports[0]->closed);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->messages.size(), 1u);
  EXPECT_EQ(got->messages[0].payload, "x");
  // Added to a session that exists on B: merged, and sent at once to its online client.
  auto& there = b.connect("p", false);
  b.feed(there, mqtt::subscribe_packet{1, {{"v", 1}}});
  (void)packets(there);
  b.b.absorb_session(got, 0, nullptr);
  b.settle();
  const auto out = packets(there);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].publish);
  EXPECT_EQ(out[0].topic, "t");
}

TEST(session_move, a_clean_session_is_closed_and_nothing_moves) {
  node a(1);
  a.connect("c", true);
  bool none = false;
  a.b.surrender_session("c", tp::broker::close_reason::taken_over_elsewhere,
                        [&](std::shared_ptr<tp::broker::session_snapshot> s) { none = !s; });
  a.settle();
  EXPECT_TRUE(none);
  EXPECT_TRUE(a.transports[0]->closed);
  EXPECT_EQ(a.b.find_session("c"), 0u);
}

} // namespace
