// The thing service between a real broker core (one worker, driven by this thread: no sockets)
// and the real SQLite stores: what it takes from a device's PUBLISH, what it stores, what it
// answers, and whom it wakes.
#include "platform/thing_service.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "../../store/temp_dir.hpp"
#include "../broker/client_output.hpp"
#include "../broker/null_transport.hpp"
#include "auth/sign.hpp"
#include "broker/broker.hpp"
#include "broker/client.hpp"
#include "mqtt/parser.hpp"
#include "mqtt/serializer.hpp"
#include "platform/device_policy.hpp"
#include "store/sqlite_identity_store.hpp"
#include "store/thing_sqlite.hpp"
#include "thing/topic.hpp"

namespace thingport::platform {
namespace {

using bclock = broker::clock;

using broker::test::null_transport;

struct received {
  std::string topic, payload;
};

struct thing_service_test : ::testing::Test {
  store::test::temp_dir dir;
  store::sqlite_identity_store ids{dir.path() / "identity.db"};
  store::sqlite_thing_store things{dir.path() / "identity.db"};
  directory d{ids};
  std::shared_ptr<device_policy> policy =
      std::make_shared<device_policy>(d, device_policy_options{});
  broker::broker b{[] {
                     broker::options o;
                     o.workers = 1;
                     return o;
                   }(),
                   policy};
  thing_service ts{b, ids, things};
  std::string pk, secret;
  null_transport t;
  std::unique_ptr<broker::client> c;
  bclock::time_point t0 = bclock::now();

  void SetUp() override {
    policy->attach(b);
    b.attach_consumer(ts);
    auto p = d.create_product({"lamp", false, {}, {}});
    ASSERT_TRUE(p);
    pk = p->product_key;
    auto dev = d.create_device(pk, {"lamp-1", {}});
    ASSERT_TRUE(dev);
    secret = dev->device_secret;
    ts.start();

    c = std::make_unique<broker::client>(
        b.at(0), t,
        broker::transport_info{broker::transport_kind::tcp,
                               broker::peer_address::v4({127, 0, 0, 1}, 1)},
        t0);
    send(login());
    mqtt::subscribe_packet s;
    s.packet_id = 1;
    s.subscriptions.push_back({"/sys/" + pk + "/lamp-1/thing/event/+/post_reply", 0});
    s.subscriptions.push_back({"/sys/" + pk + "/lamp-1/thing/service/property/set", 0});
    send(s);
    ASSERT_FALSE(c->closed());
    take();
  }

  mqtt::connect_packet login() const {
    mqtt::connect_packet login;
    login.client_id = "c1|securemode=3,signmethod=hmacsha256|";
    login.keepalive = 60;
    login.username = "lamp-1&" + pk;
    login.password = auth::device_sign(auth::sign_method::hmacsha256, secret,
                                       {"c1", "lamp-1", pk, std::nullopt});
    return login;
  }

  void TearDown() override {
    ts.stop();
    c.reset();
    policy->flush();
  }

  void send(const mqtt::packet& p) {
    std::string bytes;
    mqtt::encode(p, bytes);
    c->feed({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, t0);
  }

  void publish(const std::string& topic, const std::string& payload) {
    mqtt::publish_packet p;
    p.topic = topic;
    p.payload = payload;
    p.qos = 0;
    send(p);
  }

  // The PUBLISHes the client was sent so far.
  std::vector<received> take() {
    std::vector<received> got;
    broker::test::drain_packets(c->output(), [&](const mqtt::packet& pkt) {
      if (auto* p = std::get_if<mqtt::publish_packet>(&pkt))
        got.push_back({std::string(p->topic), std::string(p->payload)});
    });
    return got;
  }

  // Runs the worker's posted work until `n` PUBLISHes reached the client (bounded: 5 s).
  std::vector<received> wait_for(std::size_t n) {
    std::vector<received> got;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (got.size() < n && std::chrono::steady_clock::now() < end) {
      b.at(0).io().restart();
      b.at(0).io().poll();
      for (auto& r : take())
        got.push_back(std::move(r));
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return got;
  }
};

TEST_F(thing_service_test, classifies_thing_topics_once_and_nothing_else) {
  auto decision = policy->authenticate(
      login(), {broker::transport_kind::tcp, broker::peer_address::v4({127, 0, 0, 1}, 2)});
  auto* device = std::get_if<std::shared_ptr<const broker::client_identity>>(&decision);
  ASSERT_NE(device, nullptr);
  const broker::client_identity& lamp = **device;
  EXPECT_EQ(ts.classify(lamp, "/sys/" + pk + "/lamp-1/thing/event/property/post"),
            static_cast<std::uint8_t>(thing::topic_kind::property_post));
  EXPECT_EQ(ts.classify(lamp, "/ext/ntp/" + pk + "/lamp-1/request"),
            static_cast<std::uint8_t>(thing::topic_kind::ntp_request));
  EXPECT_EQ(ts.classify(lamp, "/" + pk + "/lamp-1/user/update"), 0);
  EXPECT_EQ(ts.classify(lamp, "plain/topic"), 0);
  // Applications and generic clients command devices; what they publish is no device's post.
  broker::client_identity generic;
  EXPECT_EQ(ts.classify(generic, "/sys/" + pk + "/lamp-1/thing/event/property/post"), 0);
}

TEST_F(thing_service_test, a_property_post_is_stored_and_answered_on_the_devices_worker) {
  const std::string topic = "/sys/" + pk + "/lamp-1/thing/event/property/post";
  publish(
      topic,
      R"({"id":"7","version":"1.0","params":{"Temp":21.5},"method":"thing.event.property.post"})");
  auto got = wait_for(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic, thing::reply_topic(topic));
  EXPECT_NE(got[0].payload.find(R"("id":"7")"), std::string::npos) << got[0].payload;
  EXPECT_NE(got[0].payload.find(R"("code":200)"), std::string::npos) << got[0].payload;
  EXPECT_EQ(ts.handled(), 1u);
  auto latest = things.latest_properties(pk, "lamp-1");
  ASSERT_TRUE(latest);
  ASSERT_EQ(latest->size(), 1u);
  EXPECT_EQ((*latest)[0].identifier, "Temp");
  EXPECT_EQ((*latest)[0].value, "21.5");
}

TEST_F(thing_service_test, a_request_that_is_not_json_gets_an_error_reply_and_stores_nothing) {
  const std::string topic = "/sys/" + pk + "/lamp-1/thing/event/property/post";
  publish(topic, "not json");
  auto got = wait_for(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic, thing::reply_topic(topic));
  EXPECT_EQ(got[0].payload.find(R"("code":200)"), std::string::npos) << got[0].payload;
  auto latest = things.latest_properties(pk, "lamp-1");
  ASSERT_TRUE(latest);
  EXPECT_TRUE(latest->empty());
}

TEST_F(thing_service_test, a_service_reply_wakes_its_waiter_once) {
  std::atomic<int> calls{0};
  std::atomic<int> code{0};
  ts.await_reply(pk, "lamp-1", "42", [&](const downlink_reply& r) {
    code = r.code;
    ++calls;
  });
  publish("/sys/" + pk + "/lamp-1/thing/service/Reboot_reply",
          R"({"id":"42","code":200,"data":{"ok":1}})");
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (calls == 0 && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(code, 200);
  EXPECT_FALSE(ts.forget(pk, "lamp-1", "42")); // already taken
}

TEST_F(thing_service_test, send_reaches_the_device_through_its_worker) {
  ts.send(pk, "lamp-1", thing::property_set_topic(pk, "lamp-1"), R"({"id":"1"})", 0);
  auto got = wait_for(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic, thing::property_set_topic(pk, "lamp-1"));
  EXPECT_EQ(got[0].payload, R"({"id":"1"})");
}

} // namespace
} // namespace thingport::platform
