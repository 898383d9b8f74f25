// The device policy over a real directory and SQLite identity store: who logs in, where a device
// may publish, subscribe and retain, and the _reply rule on delivery. No broker: the policy's
// answers are what the core acts on.
#include "platform/device_policy.hpp"

#include <gtest/gtest.h>

#include "../../store/temp_dir.hpp"
#include "auth/sign.hpp"
#include "broker/message.hpp"
#include "store/sqlite_identity_store.hpp"

namespace thingport::platform {
namespace {

struct device_policy_test : ::testing::Test {
  store::test::temp_dir dir;
  store::sqlite_identity_store db{dir.path() / "identity.db"};
  directory d{db};
  std::string pk, secret;
  std::unique_ptr<device_policy> policy;

  void SetUp() override {
    auto p = d.create_product({"lamp", false, {}, {}});
    ASSERT_TRUE(p);
    pk = p->product_key;
    auto dev = d.create_device(pk, {"lamp-1", {}});
    ASSERT_TRUE(dev);
    secret = dev->device_secret;
    ASSERT_TRUE(d.create_device(pk, {"lamp-2", {}}));
    policy = std::make_unique<device_policy>(d, device_policy_options{});
  }

  mqtt::connect_packet login(std::string_view dn, std::string_view device_secret,
                             std::uint16_t keepalive = 60) const {
    mqtt::connect_packet c;
    c.client_id = "c1|securemode=3,signmethod=hmacsha256|";
    c.keepalive = keepalive;
    c.username = std::string(dn) + "&" + pk;
    c.password = auth::device_sign(auth::sign_method::hmacsha256, device_secret,
                                   {"c1", std::string(dn), pk, std::nullopt});
    return c;
  }

  connect_decision connect(const mqtt::connect_packet& c) {
    return policy->authenticate(
        c, transport_info{transport_kind::tcp, broker::peer_address::v4({127, 0, 0, 1}, 5000)});
  }

  std::shared_ptr<const client_identity> device(std::string_view dn = "lamp-1") {
    auto lamp_secret = dn == "lamp-1" ? secret : d.store().get_device(pk, dn)->device_secret;
    auto r = connect(login(dn, lamp_secret));
    auto* who = std::get_if<std::shared_ptr<const client_identity>>(&r);
    EXPECT_NE(who, nullptr);
    return who != nullptr ? *who : nullptr;
  }
};

std::optional<mqtt::connack_code> refusal(const connect_decision& r) {
  if (const auto* no = std::get_if<connect_refusal>(&r))
    return no->code;
  return std::nullopt;
}

TEST_F(device_policy_test, a_correct_sign_logs_in_with_the_device_session_key) {
  auto who = device();
  ASSERT_NE(who, nullptr);
  EXPECT_EQ(who->session_key, auth::device_session_key(pk, "lamp-1"));
  // The key's bytes live in the identity's own allocation, just past it (no second allocation
  // per device), and stay valid as long as the identity.
  const auto* self = reinterpret_cast<const char*>(who.get());
  EXPECT_GT(who->session_key.data(), self);
  EXPECT_LT(who->session_key.data(), self + sizeof(aliyun_identity) + 64);
  const auto li = device_login(*who);
  ASSERT_TRUE(li.has_value());
  EXPECT_EQ(li->product_key, pk);
  EXPECT_EQ(li->device_name, "lamp-1");
  // What the identity keeps of the device (packed: memory per idle device) reads back whole.
  const auto& a = static_cast<const aliyun_identity&>(*who);
  auth::device_record rec;
  ASSERT_EQ(d.find_device(pk, "lamp-1", rec), auth::lookup_status::found);
  EXPECT_EQ(a.iot_id(), rec.iot_id);
  EXPECT_EQ(a.iot_id().size(), 24u);
  // Its permissions view the device name in its own key: its topics and no other device's.
  EXPECT_TRUE(a.permissions.can_publish("/" + pk + "/lamp-1/user/update"));
  EXPECT_FALSE(a.permissions.can_publish("/" + pk + "/lamp-2/user/update"));
}

TEST_F(device_policy_test, wrong_sign_unknown_disabled_and_bad_keepalive_are_refused) {
  EXPECT_EQ(refusal(connect(login("lamp-1", "not-the-secret"))),
            mqtt::connack_code::bad_username_or_password);
  EXPECT_EQ(refusal(connect(login("nobody", secret))),
            mqtt::connack_code::bad_username_or_password);
  EXPECT_FALSE(refusal(connect(login("lamp-1", secret, 60))));
  EXPECT_TRUE(refusal(connect(login("lamp-1", secret, 10))));
  EXPECT_TRUE(refusal(connect(login("lamp-1", secret, 1300))));
  ASSERT_TRUE(d.set_device_enabled(pk, "lamp-1", false));
  EXPECT_TRUE(refusal(connect(login("lamp-1", secret))));
}

TEST_F(device_policy_test, a_device_stays_inside_its_own_topics) {
  auto who = device();
  ASSERT_NE(who, nullptr);
  const std::string own = "/sys/" + pk + "/lamp-1/thing/event/property/post";
  const std::string other = "/sys/" + pk + "/lamp-2/thing/event/property/post";
  EXPECT_EQ(policy->authorize_publish(*who, own, 1), publish_verdict::allow);
  EXPECT_NE(policy->authorize_publish(*who, other, 1), publish_verdict::allow);
  EXPECT_NE(policy->authorize_subscribe(*who, "/sys/" + pk + "/lamp-1/thing/service/#", 1),
            mqtt::suback_failure);
  EXPECT_EQ(policy->authorize_subscribe(*who, "/sys/" + pk + "/+/thing/service/#", 1),
            mqtt::suback_failure);
  EXPECT_EQ(policy->authorize_subscribe(*who, "#", 0), mqtt::suback_failure);
}

TEST_F(device_policy_test, platform_topics_keep_no_retained_copy_custom_ones_may) {
  auto who = device();
  ASSERT_NE(who, nullptr);
  EXPECT_FALSE(policy->may_retain(*who, "/sys/" + pk + "/lamp-1/thing/event/property/post"));
  EXPECT_FALSE(policy->may_retain(*who, "/ota/device/inform/" + pk + "/lamp-1"));
  EXPECT_TRUE(policy->may_retain(*who, "/" + pk + "/lamp-1/user/update"));
}

TEST_F(device_policy_test, a_device_does_not_receive_its_own_replies_back) {
  auto who = device();
  ASSERT_NE(who, nullptr);
  const std::string reply = "/sys/" + pk + "/lamp-1/thing/service/property/set_reply";
  const auto m = broker::make_message(reply, "{}", 0, false, 0);
  EXPECT_FALSE(policy->may_receive(*who, *m, true));
  // A request on the same subtree from the platform (not its own) is delivered.
  const auto set =
      broker::make_message("/sys/" + pk + "/lamp-1/thing/service/property/set", "{}", 0, false, 0);
  EXPECT_TRUE(policy->may_receive(*who, *set, false));
  // Nothing of another device reaches it, even if a filter matched.
  const auto foreign =
      broker::make_message("/sys/" + pk + "/lamp-2/thing/service/property/set", "{}", 0, false, 0);
  EXPECT_FALSE(policy->may_receive(*who, *foreign, false));
}

TEST_F(device_policy_test, status_changes_reach_the_store_through_the_writer) {
  auto who = device();
  ASSERT_NE(who, nullptr);
  const std::array<std::uint8_t, 16> loopback6{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const transport_info t{transport_kind::tcp, broker::peer_address::v6(loopback6, 5000)};
  const broker::compact_string client_id("c1");
  policy->on_online(*who, connection_facts{7, client_id, t});
  policy->flush();
  auto rec = d.store().get_device(pk, "lamp-1");
  ASSERT_TRUE(rec);
  EXPECT_TRUE(rec->activated());
  EXPECT_EQ(rec->last_ip, "::1");
  policy->on_offline(*who, 7, close_reason::keepalive_timeout);
  policy->flush();
  EXPECT_EQ(policy->pending_writes(), 0u);
  EXPECT_TRUE(d.store().get_device(pk, "lamp-1")->last_offline);
}

} // namespace
} // namespace thingport::platform
