// Durable sessions in the broker, without sockets or disk: a fake session_store records what the
// workers write; the writer is stopped, so a submission commits at once on this thread, and the
// worker's io_context is polled by hand. Checks what is written, and that a QoS 1 publish to a
// stored session is acknowledged only after its commit, in PUBLISH order.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "broker/broker.hpp"
#include "broker/client.hpp"
#include "client_output.hpp"
#include "mqtt/parser.hpp"
#include "mqtt/serializer.hpp"
#include "null_transport.hpp"
#include "store/session_writer.hpp"

namespace tp = thingport;
using bclock = tp::broker::clock;
namespace mqtt = tp::mqtt;
namespace store = tp::store;

namespace {

using fake_transport = tp::broker::test::null_transport;

class fake_store final : public store::session_store {
public:
  std::vector<store::session_op> ops;
  int commits = 0;
  bool fail = false;
  std::error_code apply(std::span<const store::session_op> batch) override {
    if (fail)
      return store::make_error_code(store::errc::storage_failure);
    ++commits;
    ops.insert(ops.end(), batch.begin(), batch.end());
    return {};
  }
  std::error_code load_all(store::session_sink&) override { return {}; }
  store::result<store::session_counts> counts() override { return store::session_counts{}; }
  store::result<std::vector<std::string>> check() override { return std::vector<std::string>{}; }
  store::result<std::uint64_t> used_bytes() override { return used; }
  std::uint64_t used = 0;
  template <typename Op> int count() const {
    int n = 0;
    for (const auto& op : ops)
      n += std::holds_alternative<Op>(op) ? 1 : 0;
    return n;
  }
};

std::string bytes(const mqtt::packet& p) {
  std::string out;
  mqtt::encode(p, out);
  return out;
}

class durable : public ::testing::Test {
protected:
  void SetUp() override { writer.stop(); } // submissions commit at once, on this thread

  static tp::broker::options opts() {
    tp::broker::options o;
    o.workers = 1;
    o.max_queued = 3;
    o.disk_budget = 1u << 20;
    return o;
  }
  fake_store db;
  store::session_writer writer{db};
  tp::broker::broker b{
      opts(), std::make_shared<tp::broker::anonymous_policy>(true, std::vector<std::string>{})};
  bclock::time_point t0 = bclock::now();

  struct conn {
    fake_transport t;
    std::unique_ptr<tp::broker::client> c;
  };

  void poll() {
    for (int i = 0; i < 4; ++i) {
      b.at(0).io().restart();
      b.at(0).io().poll();
    }
  }
  void feed(conn& c, const mqtt::packet& p) {
    auto s = bytes(p);
    c.c->feed({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}, t0);
  }
  std::unique_ptr<conn> connect(const std::string& id, bool clean) {
    auto c = std::make_unique<conn>();
    c->c = std::make_unique<tp::broker::client>(b.at(0), c->t, tp::broker::transport_info{}, t0);
    mqtt::connect_packet p;
    p.client_id = id;
    p.clean_session = clean;
    feed(*c, p);
    return c;
  }
  static mqtt::publish_packet pub(std::string_view topic, std::uint16_t id) {
    mqtt::publish_packet p;
    p.topic = topic;
    p.payload = "x";
    p.qos = 1;
    p.packet_id = id;
    return p;
  }
  // Packet ids of the PUBACKs in c's output, in order; clears it.
  static std::vector<std::uint16_t> pubacks(conn& c) {
    std::vector<std::uint16_t> ids;
    tp::broker::test::drain_packets(c.c->output(), [&](const mqtt::packet& pkt) {
      if (auto* a = std::get_if<mqtt::puback_packet>(&pkt))
        ids.push_back(a->packet_id);
    });
    return ids;
  }
  // A persistent session subscribed to t/# at QoS 1, offline.
  void offline_subscriber() {
    auto s = connect("keeper", false);
    feed(*s, mqtt::subscribe_packet{1, {{"t/#", 1}}});
    s->c->on_transport_closed(tp::broker::close_reason::peer_closed);
    poll();
  }
};

TEST_F(durable, puback_waits_for_the_commit_and_keeps_publish_order) {
  b.attach_store(writer, true);
  offline_subscriber();
  EXPECT_EQ(db.count<store::put_session>(), 1);
  EXPECT_EQ(db.count<store::put_subscription>(), 1);
  auto p = connect("publisher", true);
  pubacks(*p);
  feed(*p, pub("t/1", 1));   // stored: waits
  feed(*p, pub("other", 2)); // not stored, but after 1
  EXPECT_TRUE(pubacks(*p).empty()) << "no PUBACK before the commit";
  const int before = db.commits;
  poll(); // flush -> commit -> ack_ready posted -> sent
  EXPECT_GT(db.commits, before);
  EXPECT_EQ(pubacks(*p), (std::vector<std::uint16_t>{1, 2}));
  EXPECT_EQ(db.count<store::put_message>(), 1);
  EXPECT_EQ(db.count<store::put_entry>(), 1);
  // Nothing waits when no stored session takes the message.
  feed(*p, pub("other", 3));
  EXPECT_EQ(pubacks(*p), (std::vector<std::uint16_t>{3}));
}

TEST_F(durable, async_acknowledges_at_once_and_still_writes) {
  b.attach_store(writer, false);
  offline_subscriber();
  auto p = connect("publisher", true);
  pubacks(*p);
  feed(*p, pub("t/1", 7));
  EXPECT_EQ(pubacks(*p), (std::vector<std::uint16_t>{7}));
  poll();
  EXPECT_EQ(db.count<store::put_entry>(), 1);
}

TEST_F(durable, a_failed_commit_is_never_acknowledged) {
  b.attach_store(writer, true);
  offline_subscriber();
  auto p = connect("publisher", true);
  pubacks(*p);
  db.fail = true;
  feed(*p, pub("t/1", 1));
  poll();
  EXPECT_TRUE(pubacks(*p).empty());
  EXPECT_TRUE(p->c->closed());
  EXPECT_EQ(p->c->reason(), tp::broker::close_reason::store_failure);
}

TEST_F(durable, delivery_ack_and_clean_session_are_written) {
  b.attach_store(writer, true);
  offline_subscriber();
  auto p = connect("publisher", true);
  feed(*p, pub("t/1", 1));
  poll();
  // The subscriber comes back: the queued entry goes in flight, then its PUBACK deletes it.
  auto s = connect("keeper", false);
  poll();
  EXPECT_EQ(db.count<store::set_entry_state>(), 1);
  feed(*s, mqtt::puback_packet{1});
  poll();
  EXPECT_EQ(db.count<store::delete_entry>(), 1);
  s->c->on_transport_closed(tp::broker::close_reason::peer_closed);
  auto clean = connect("keeper", true);
  poll();
  EXPECT_EQ(db.count<store::delete_session>(), 1);
}

TEST_F(durable, queue_bound_drops_the_newest_and_counts) {
  b.attach_store(writer, true);
  offline_subscriber();
  auto p = connect("publisher", true);
  for (std::uint16_t i = 1; i <= 5; ++i)
    feed(*p, pub("t/1", i));
  poll();
  EXPECT_EQ(db.count<store::put_entry>(), 3); // max_queued
  EXPECT_EQ(b.total(&tp::broker::counters::dropped_queue_full), 2u);
  EXPECT_EQ(pubacks(*p).size(), 5u) << "dropped by a bound: acknowledged, counted, logged";
}

TEST_F(durable, an_outside_publish_completes_after_the_commit_or_reports_the_failure) {
  b.attach_store(writer, true);
  offline_subscriber();
  std::vector<bool> done;
  b.publish(tp::broker::make_message("t/1", "x", 1, false, b.next_message_id()),
            [&](bool ok) { done.push_back(ok); });
  EXPECT_TRUE(done.empty());
  const int before = db.commits;
  poll();
  EXPECT_GT(db.commits, before);
  EXPECT_EQ(done, (std::vector<bool>{true}));
  // No stored session takes it: at once.
  b.publish(tp::broker::make_message("elsewhere", "x", 1, false, b.next_message_id()),
            [&](bool ok) { done.push_back(ok); });
  poll();
  EXPECT_EQ(done, (std::vector<bool>{true, true}));
  db.fail = true;
  b.publish(tp::broker::make_message("t/2", "x", 1, false, b.next_message_id()),
            [&](bool ok) { done.push_back(ok); });
  poll();
  EXPECT_EQ(done, (std::vector<bool>{true, true, false}));
  EXPECT_TRUE(b.store_failing());
}

TEST_F(durable, over_the_disk_budget_new_messages_are_dropped_acknowledged_and_counted) {
  b.attach_store(writer, true);
  offline_subscriber();
  auto p = connect("publisher", true);
  pubacks(*p);
  db.used = 2u << 20; // the next commit reads it: over the 1 MiB budget
  feed(*p, pub("t/1", 1));
  poll();
  EXPECT_EQ(db.count<store::put_entry>(), 1) << "stored: the budget was not known to be spent";
  feed(*p, pub("t/1", 2));
  poll();
  EXPECT_EQ(db.count<store::put_entry>(), 1);
  EXPECT_EQ(b.total(&tp::broker::counters::dropped_disk_budget), 1u);
  EXPECT_EQ(pubacks(*p), (std::vector<std::uint16_t>{1, 2}));
  db.used = 0; // room again (the writer learns it at its next commit)
  writer.submit({}, {});
  feed(*p, pub("t/1", 3));
  poll();
  EXPECT_EQ(db.count<store::put_entry>(), 2);
}

TEST_F(durable, clean_sessions_never_touch_the_store) {
  b.attach_store(writer, true);
  auto s = connect("fleeting", true);
  feed(*s, mqtt::subscribe_packet{1, {{"t/#", 1}}});
  auto p = connect("publisher", true);
  pubacks(*p);
  feed(*p, pub("t/1", 1));
  EXPECT_EQ(pubacks(*p), (std::vector<std::uint16_t>{1}));
  poll();
  EXPECT_TRUE(db.ops.empty());
}

} // namespace
