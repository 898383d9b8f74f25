// The per-connection protocol logic from raw bytes: no sockets, no sleeping. Time is passed in.
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

namespace tp = thingport;
using bclock = tp::broker::clock;
using tp::broker::close_reason;
namespace mqtt = tp::mqtt;

namespace {

struct fake_transport final : tp::broker::test::null_transport {
  int wakes = 0;
  bool shut = false;
  int resumes = 0;
  void wake() override { ++wakes; }
  void shutdown() override { shut = true; }
  void resume_reading() override { ++resumes; }
};

std::string bytes(const mqtt::packet& p) {
  std::string out;
  mqtt::encode(p, out);
  return out;
}

// An owned copy of a decoded PUBLISH (the decoded one points into the output buffer).
struct received_publish {
  std::string topic, payload;
  std::uint8_t qos;
  bool retain, dup;
  std::uint16_t packet_id;
};

class fixture : public ::testing::Test {
protected:
  static tp::broker::options opts() {
    tp::broker::options o;
    o.workers = 1;
    o.max_inflight = 4;
    o.max_queued = 8;
    return o;
  }
  tp::broker::broker b{opts(), std::make_shared<tp::broker::anonymous_policy>(
                                   true, std::vector<std::string>{"test/nosubscribe"})};
  tp::broker::worker& w = b.at(0);
  bclock::time_point t0 = bclock::now();

  struct conn {
    fake_transport t;
    std::unique_ptr<tp::broker::client> c;
    std::string in_flight_bytes;

    void feed(const std::string& data, bclock::time_point now) {
      in_flight_bytes.append(data);
      const auto used = c->feed(
          {reinterpret_cast<const std::uint8_t*>(in_flight_bytes.data()), in_flight_bytes.size()},
          now);
      in_flight_bytes.erase(0, used);
    }
    void send(const mqtt::packet& p, bclock::time_point now) { feed(bytes(p), now); }

    // Everything the client queued for the socket since the last call, decoded.
    std::vector<mqtt::packet> take(std::vector<received_publish>* pubs = nullptr) {
      std::vector<mqtt::packet> got;
      const bool whole = tp::broker::test::drain_packets(c->output(), [&](const mqtt::packet& pkt) {
        if (pubs != nullptr) {
          if (auto* p = std::get_if<mqtt::publish_packet>(&pkt))
            pubs->push_back({std::string(p->topic), std::string(p->payload), p->qos, p->retain,
                             p->dup, p->packet_id});
        }
        got.push_back(pkt);
      });
      EXPECT_TRUE(whole) << "the client queued bytes that are not a whole packet";
      return got;
    }
  };

  std::unique_ptr<conn> open(bclock::time_point now) {
    auto c = std::make_unique<conn>();
    c->c = std::make_unique<tp::broker::client>(w, c->t, tp::broker::transport_info{}, now);
    return c;
  }

  std::unique_ptr<conn> connect(const std::string& id, bool clean = true, std::uint16_t ka = 0,
                                std::optional<mqtt::will_message> will = std::nullopt,
                                bool* present = nullptr) {
    auto c = open(t0);
    mqtt::connect_packet p;
    p.client_id = id;
    p.clean_session = clean;
    p.keepalive = ka;
    p.will = std::move(will);
    c->send(p, t0);
    auto got = c->take();
    EXPECT_FALSE(got.empty());
    if (!got.empty()) {
      auto* ack = std::get_if<mqtt::connack_packet>(&got.front());
      EXPECT_NE(ack, nullptr);
      if (ack != nullptr) {
        EXPECT_EQ(ack->code, mqtt::connack_code::accepted);
        if (present != nullptr)
          *present = ack->session_present;
      }
    }
    return c;
  }

  static mqtt::subscribe_packet sub(std::uint16_t id, std::string filter, std::uint8_t qos) {
    return {id, {{std::move(filter), qos}}};
  }
  static mqtt::publish_packet pub(std::string_view topic, std::string_view payload,
                                  std::uint8_t qos, std::uint16_t id = 0, bool retain = false) {
    mqtt::publish_packet p;
    p.topic = topic;
    p.payload = payload;
    p.qos = qos;
    p.packet_id = id;
    p.retain = retain;
    return p;
  }
};

TEST_F(fixture, first_packet_must_be_connect) {
  auto c = open(t0);
  c->send(pub("a", "x", 0), t0);
  EXPECT_TRUE(c->c->closed());
  EXPECT_EQ(c->c->reason(), close_reason::protocol_error);
  EXPECT_TRUE(c->t.shut);
}

TEST_F(fixture, connect_must_arrive_within_timeout) {
  auto c = open(t0);
  c->c->on_timer(t0 + std::chrono::seconds(9));
  EXPECT_FALSE(c->c->closed());
  EXPECT_EQ(c->c->deadline(), t0 + std::chrono::seconds(10));
  c->c->on_timer(t0 + std::chrono::seconds(10));
  EXPECT_TRUE(c->c->closed());
  EXPECT_EQ(c->c->reason(), close_reason::connect_timeout);
}

TEST_F(fixture, keepalive_enforced_at_one_and_a_half_times) {
  auto c = connect("ka", true, 10);
  c->c->on_timer(t0 + std::chrono::milliseconds(14999));
  EXPECT_FALSE(c->c->closed());
  c->send(mqtt::pingreq_packet{}, t0 + std::chrono::seconds(12));
  auto got = c->take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<mqtt::pingresp_packet>(got[0]));
  c->c->on_timer(t0 + std::chrono::seconds(26));
  EXPECT_FALSE(c->c->closed());
  c->c->on_timer(t0 + std::chrono::seconds(27));
  EXPECT_TRUE(c->c->closed());
  EXPECT_EQ(c->c->reason(), close_reason::keepalive_timeout);
}

TEST_F(fixture, keepalive_zero_never_times_out) {
  auto c = connect("ka0", true, 0);
  EXPECT_EQ(c->c->deadline(), bclock::time_point::max());
}

TEST_F(fixture, second_connect_is_a_protocol_error) {
  auto c = connect("twice");
  mqtt::connect_packet p;
  p.client_id = "twice";
  c->send(p, t0);
  EXPECT_TRUE(c->c->closed());
  EXPECT_EQ(c->c->reason(), close_reason::protocol_error);
}

TEST_F(fixture, empty_client_id_needs_clean_session) {
  auto c = open(t0);
  mqtt::connect_packet p;
  p.clean_session = false;
  c->send(p, t0);
  auto got = c->take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<mqtt::connack_packet>(got[0]).code, mqtt::connack_code::identifier_rejected);
  EXPECT_TRUE(c->c->closed());
  auto ok = connect("", true); // accepted with a generated session key
  EXPECT_FALSE(ok->c->closed());
}

TEST_F(fixture, routes_at_min_of_publish_and_granted_qos) {
  auto s = connect("sub");
  s->send(sub(1, "a/+", 1), t0);
  auto ack = s->take();
  ASSERT_EQ(ack.size(), 1u);
  EXPECT_EQ(std::get<mqtt::suback_packet>(ack[0]).return_codes, std::vector<std::uint8_t>{1});
  auto p = connect("pub");
  p->send(pub("a/b", "q0", 0), t0);
  p->send(pub("a/b", "q2", 2, 7), t0);
  std::vector<received_publish> got;
  s->take(&got);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].qos, 0);
  EXPECT_EQ(got[1].qos, 1);
  EXPECT_EQ(got[1].payload, "q2");
  auto pa = p->take();
  ASSERT_EQ(pa.size(), 1u);
  EXPECT_EQ(std::get<mqtt::pubrec_packet>(pa[0]).packet_id, 7);
}

TEST_F(fixture, qos2_inbound_delivered_once_across_retries) {
  auto s = connect("s2");
  s->send(sub(1, "t", 2), t0);
  s->take();
  auto p = connect("p2");
  p->send(pub("t", "once", 2, 9), t0);
  p->send(pub("t", "once", 2, 9), t0); // retry before PUBREL
  std::vector<received_publish> got;
  s->take(&got);
  EXPECT_EQ(got.size(), 1u);
  auto acks = p->take();
  ASSERT_EQ(acks.size(), 2u); // PUBREC twice
  p->send(mqtt::pubrel_packet{9}, t0);
  acks = p->take();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(std::get<mqtt::pubcomp_packet>(acks[0]).packet_id, 9);
  // The id is free again: a new message with it is routed.
  p->send(pub("t", "again", 2, 9), t0);
  got.clear();
  s->take(&got);
  EXPECT_EQ(got.size(), 1u);
}

TEST_F(fixture, qos2_outbound_exchange) {
  auto s = connect("o2");
  s->send(sub(1, "t", 2), t0);
  s->take();
  auto p = connect("p");
  p->send(pub("t", "x", 2, 1), t0);
  std::vector<received_publish> got;
  s->take(&got);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].qos, 2);
  s->send(mqtt::pubrec_packet{got[0].packet_id}, t0);
  auto rel = s->take();
  ASSERT_EQ(rel.size(), 1u);
  EXPECT_EQ(std::get<mqtt::pubrel_packet>(rel[0]).packet_id, got[0].packet_id);
  s->send(mqtt::pubcomp_packet{got[0].packet_id}, t0);
  EXPECT_TRUE(s->take().empty());
}

TEST_F(fixture, persistent_session_resumes_with_dup_and_queue) {
  auto s = connect("persist2", false);
  s->send(sub(1, "q/#", 1), t0);
  s->take();
  auto p = connect("pp2");
  p->send(pub("q/1", "m1", 1, 1), t0);
  std::vector<received_publish> first;
  s->take(&first);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_FALSE(first[0].dup);
  s->c->on_transport_closed(close_reason::peer_closed);
  p->send(pub("q/2", "m2", 1, 2), t0);
  p->send(pub("q/3", "m0", 0), t0); // QoS 0 to an offline session is not kept
  s.reset();

  auto c = open(t0);
  mqtt::connect_packet cp;
  cp.client_id = "persist2";
  cp.clean_session = false;
  c->send(cp, t0);
  std::vector<received_publish> again;
  auto got = c->take(&again);
  ASSERT_GE(got.size(), 1u);
  EXPECT_TRUE(std::get<mqtt::connack_packet>(got[0]).session_present);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].payload, "m1");
  EXPECT_TRUE(again[0].dup);
  EXPECT_EQ(again[0].packet_id, first[0].packet_id);
  EXPECT_EQ(again[1].payload, "m2");
  EXPECT_FALSE(again[1].dup);
  // Subscriptions survived too.
  p->send(pub("q/4", "m4", 1, 3), t0);
  std::vector<received_publish> more;
  c->take(&more);
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0].payload, "m4");
}

TEST_F(fixture, clean_session_discards_state) {
  auto s = connect("cs", false);
  s->send(sub(1, "x", 1), t0);
  s->take();
  s->c->on_transport_closed(close_reason::peer_closed);
  s.reset();
  bool present = true;
  auto s2 = connect("cs", true, 0, std::nullopt, &present);
  EXPECT_FALSE(present);
  auto p = connect("pcs");
  p->send(pub("x", "gone", 1, 1), t0);
  EXPECT_TRUE(s2->take().empty());
}

TEST_F(fixture, takeover_closes_the_older_link) {
  auto a = connect("same");
  auto b2 = connect("same");
  EXPECT_TRUE(a->c->closed());
  EXPECT_EQ(a->c->reason(), close_reason::taken_over);
  EXPECT_FALSE(b2->c->closed());
}

TEST_F(fixture, will_published_on_abrupt_close_not_on_disconnect) {
  auto s = connect("watcher");
  s->send(sub(1, "will/#", 0), t0);
  s->take();
  auto a = connect("w1", true, 0, mqtt::will_message{"will/w1", "gone", 0, false});
  a->c->on_transport_closed(close_reason::peer_closed);
  std::vector<received_publish> got;
  s->take(&got);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic, "will/w1");
  auto b2 = connect("w2", true, 0, mqtt::will_message{"will/w2", "gone", 0, false});
  b2->send(mqtt::disconnect_packet{}, t0);
  EXPECT_EQ(b2->c->reason(), close_reason::client_disconnect);
  got.clear();
  s->take(&got);
  EXPECT_TRUE(got.empty());
}

TEST_F(fixture, overlapping_subscriptions_deliver_once_at_highest_qos) {
  auto s = connect("ov");
  s->send(mqtt::subscribe_packet{1, {{"ov/#", 2}, {"ov/+", 1}}}, t0);
  s->take();
  auto p = connect("pov");
  p->send(pub("ov/a", "x", 2, 1), t0);
  std::vector<received_publish> got;
  s->take(&got);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].qos, 2);
}

TEST_F(fixture, retained_message_sent_on_subscribe_with_retain_flag) {
  auto p = connect("pr");
  p->send(pub("r/1", "kept", 1, 1, true), t0);
  auto s = connect("sr");
  s->send(sub(1, "r/#", 1), t0);
  std::vector<received_publish> got;
  s->take(&got);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].retain);
  EXPECT_EQ(got[0].payload, "kept");
  // Live messages to existing subscribers carry retain = 0.
  p->send(pub("r/1", "live", 0, 0, true), t0);
  got.clear();
  s->take(&got);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(got[0].retain);
  // An empty retained payload clears it.
  p->send(pub("r/1", "", 0, 0, true), t0);
  auto s2 = connect("sr2");
  s2->send(sub(1, "r/#", 1), t0);
  got.clear();
  s2->take(&got);
  EXPECT_TRUE(got.empty());
}

TEST_F(fixture, inflight_window_bounds_and_queue_fills_it) {
  auto s = connect("win");
  s->send(sub(1, "w", 1), t0);
  s->take();
  auto p = connect("pw");
  for (std::uint16_t i = 1; i <= 6; ++i)
    p->send(pub("w", std::to_string(i), 1, i), t0);
  std::vector<received_publish> got;
  s->take(&got);
  ASSERT_EQ(got.size(), 4u); // max_inflight
  s->send(mqtt::puback_packet{got[0].packet_id}, t0);
  std::vector<received_publish> next;
  s->take(&next);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].payload, "5");
}

TEST_F(fixture, offline_queue_is_bounded_and_counts_drops) {
  auto s = connect("bound", false);
  s->send(sub(1, "b", 1), t0);
  s->take();
  s->c->on_transport_closed(close_reason::peer_closed);
  s.reset();
  auto p = connect("pb");
  for (std::uint16_t i = 1; i <= 12; ++i)
    p->send(pub("b", std::to_string(i), 1, i), t0);
  EXPECT_EQ(b.total(&tp::broker::counters::dropped_queue_full), 4u); // max_queued = 8
}

TEST_F(fixture, denied_subscription_gets_0x80) {
  auto s = connect("deny");
  s->send(mqtt::subscribe_packet{3, {{"test/nosubscribe", 1}, {"ok", 1}}}, t0);
  auto got = s->take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<mqtt::suback_packet>(got[0]).return_codes,
            (std::vector<std::uint8_t>{0x80, 1}));
}

TEST_F(fixture, malformed_bytes_close_the_connection) {
  auto c = connect("bad");
  c->feed(std::string("\x30\xff\xff\xff\xff\x01", 6), t0); // 5-byte remaining length
  EXPECT_TRUE(c->c->closed());
  EXPECT_EQ(c->c->reason(), close_reason::malformed_packet);
}

TEST_F(fixture, oversized_packet_refused_from_its_header) {
  auto c = connect("big");
  c->feed(std::string("\x30\x80\x80\x80\x7f", 5), t0); // claims ~256 MB
  EXPECT_TRUE(c->c->closed());
  EXPECT_EQ(c->c->reason(), close_reason::payload_too_large);
}

} // namespace

namespace {

// Two workers, driven by this thread: the session moves from worker 0 to worker 1.
TEST(cross_worker, takeover_moves_the_session_and_its_queue) {
  tp::broker::options o;
  o.workers = 2;
  tp::broker::broker b(
      o, std::make_shared<tp::broker::anonymous_policy>(true, std::vector<std::string>{}));
  const auto now = bclock::now();
  auto poll = [&] {
    for (int i = 0; i < 10; ++i) {
      b.at(0).io().poll();
      b.at(1).io().poll();
      b.at(0).io().restart();
      b.at(1).io().restart();
    }
  };
  fake_transport ta, tb, tpub;
  auto a = std::make_unique<tp::broker::client>(b.at(0), ta, tp::broker::transport_info{}, now);
  mqtt::connect_packet cp;
  cp.client_id = "mover";
  cp.clean_session = false;
  auto feed = [&](tp::broker::client& c, const mqtt::packet& p) {
    auto s = bytes(p);
    return c.feed({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}, now);
  };
  feed(*a, cp);
  feed(*a, mqtt::subscribe_packet{1, {{"m/#", 1}}});
  a->output().clear();
  auto pub_client =
      std::make_unique<tp::broker::client>(b.at(0), tpub, tp::broker::transport_info{}, now);
  mqtt::connect_packet pc;
  pc.client_id = "pubber";
  feed(*pub_client, pc);
  mqtt::publish_packet pp;
  pp.topic = "m/1";
  pp.payload = "hello";
  pp.qos = 1;
  pp.packet_id = 1;
  a->on_transport_closed(close_reason::peer_closed);
  feed(*pub_client, pp); // queued for the offline session on worker 0

  auto c = std::make_unique<tp::broker::client>(b.at(1), tb, tp::broker::transport_info{}, now);
  feed(*c, cp);
  EXPECT_TRUE(c->paused()); // waiting for the session from worker 0
  poll();
  ASSERT_FALSE(c->paused());
  EXPECT_EQ(b.sessions().home(b.find_session("mover")), 1u);
  mqtt::parser_options po;
  po.side = mqtt::parser_options::role::client;
  const auto& out = c->output();
  auto r = mqtt::parse({reinterpret_cast<const std::uint8_t*>(out.data()), out.size()}, po);
  ASSERT_EQ(r.state, mqtt::parse_result::status::packet);
  EXPECT_TRUE(std::get<mqtt::connack_packet>(r.pkt).session_present);
  auto r2 = mqtt::parse(
      {reinterpret_cast<const std::uint8_t*>(out.data()) + r.consumed, out.size() - r.consumed},
      po);
  ASSERT_EQ(r2.state, mqtt::parse_result::status::packet);
  EXPECT_EQ(std::get<mqtt::publish_packet>(r2.pkt).payload, "hello");

  // A message published on worker 0 now reaches the session on worker 1 through a batch.
  c->output().clear();
  pp.payload = "after";
  pp.packet_id = 2;
  feed(*pub_client, pp);
  poll();
  EXPECT_NE(c->output().find("after"), std::string::npos);
}

} // namespace
