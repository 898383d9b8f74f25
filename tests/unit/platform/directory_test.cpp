// The broker's device directory over the real SQLite identity store: the cache follows the
// store, lookups never touch disk, online tracking survives takeovers.
#include "platform/directory.hpp"

#include <gtest/gtest.h>

#include "../../store/temp_dir.hpp"
#include "store/sqlite_identity_store.hpp"

namespace thingport::platform {
namespace {

struct directory_test : ::testing::Test {
  store::test::temp_dir dir;
  store::sqlite_identity_store db{dir.path() / "identity.db"};
  directory d{db};
};

TEST_F(directory_test, unknown_everything_before_load) {
  auth::product_record p;
  auth::device_record dev;
  auth::app_record a;
  EXPECT_EQ(d.find_product("pk", p), auth::lookup_status::not_found);
  EXPECT_EQ(d.find_device("pk", "dev1", dev), auth::lookup_status::not_found);
  EXPECT_EQ(d.find_app("app", a), auth::lookup_status::not_found);
  EXPECT_EQ(d.permissions("pk"), nullptr);
}

TEST_F(directory_test, mutations_reach_the_cache_and_the_store) {
  auto p = d.create_product({"lamp", true, {}, {}});
  ASSERT_TRUE(p);
  auto dev = d.create_device(p->product_key, {"lamp-1", {}});
  ASSERT_TRUE(dev);
  auth::device_record rec;
  ASSERT_EQ(d.find_device(p->product_key, "lamp-1", rec), auth::lookup_status::found);
  EXPECT_EQ(rec.device_secret, dev->device_secret);
  EXPECT_TRUE(rec.enabled);
  EXPECT_FALSE(rec.activated);

  ASSERT_TRUE(d.set_device_enabled(p->product_key, "lamp-1", false));
  ASSERT_EQ(d.find_device(p->product_key, "lamp-1", rec), auth::lookup_status::found);
  EXPECT_FALSE(rec.enabled);
  EXPECT_FALSE(db.get_device(p->product_key, "lamp-1")->enabled);

  ASSERT_TRUE(d.delete_device(p->product_key, "lamp-1"));
  EXPECT_EQ(d.find_device(p->product_key, "lamp-1", rec), auth::lookup_status::not_found);
  EXPECT_EQ(d.device_count(), 0u);
}

TEST_F(directory_test, a_refused_write_leaves_the_cache_alone) {
  auto p = d.create_product({"lamp", false, {}, {}});
  ASSERT_TRUE(p);
  ASSERT_TRUE(d.create_device(p->product_key, {"lamp-1", "secret-one"}));
  auto dup = d.create_device(p->product_key, {"lamp-1", "secret-two"});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error(), store::errc::already_exists);
  auth::device_record rec;
  ASSERT_EQ(d.find_device(p->product_key, "lamp-1", rec), auth::lookup_status::found);
  EXPECT_EQ(rec.device_secret, "secret-one");
  EXPECT_FALSE(d.set_device_enabled(p->product_key, "nobody", false));
  EXPECT_EQ(d.device_count(), 1u);
}

TEST_F(directory_test, load_rebuilds_everything_from_the_store) {
  auto p = db.create_product({"lamp", false, {}, {}});
  ASSERT_TRUE(p);
  std::vector<store::new_device> batch;
  for (int i = 0; i < 100; ++i)
    batch.push_back({"lamp-" + std::to_string(i), {}});
  ASSERT_TRUE(db.create_devices(p->product_key, batch));
  ASSERT_TRUE(db.add_topic_class(
      {p->product_key, "/${productKey}/${deviceName}/user/cmd", auth::access::sub}));
  ASSERT_TRUE(db.create_app({"backend", {p->product_key}, {}, {}}));
  d.load();
  EXPECT_EQ(d.device_count(), 100u);
  auto perms = d.permissions(p->product_key);
  ASSERT_NE(perms, nullptr);
  EXPECT_TRUE(perms->device_can_subscribe("lamp-7", "/" + p->product_key + "/lamp-7/user/cmd"));
  EXPECT_FALSE(perms->device_can_subscribe("lamp-7", "/" + p->product_key + "/lamp-8/user/cmd"));
  auto apps = db.list_apps({});
  ASSERT_TRUE(apps);
  ASSERT_EQ(apps->size(), 1u);
  auth::app_record a;
  ASSERT_EQ(d.find_app(apps->front().app_key, a), auth::lookup_status::found);
  EXPECT_EQ(a.products, std::vector<std::string>{p->product_key});
}

TEST_F(directory_test, a_new_topic_class_makes_new_permissions) {
  auto p = d.create_product({"lamp", false, {}, {}});
  ASSERT_TRUE(p);
  auto before = d.permissions(p->product_key);
  const std::string cmd = "/" + p->product_key + "/lamp-1/user/cmd";
  EXPECT_FALSE(before->device_can_subscribe("lamp-1", cmd));
  ASSERT_TRUE(d.add_topic_class(
      {p->product_key, "/${productKey}/${deviceName}/user/cmd", auth::access::sub}));
  EXPECT_TRUE(d.permissions(p->product_key)->device_can_subscribe("lamp-1", cmd));
  EXPECT_FALSE(before->device_can_subscribe("lamp-1", cmd)); // old links keep theirs
}

TEST_F(directory_test, online_follows_the_newest_connection) {
  d.mark_online("pk", "dev1", online_info{1, "a", "127.0.0.1:1", transport_kind::tcp, {}});
  d.mark_online("pk", "dev1", online_info{2, "b", "127.0.0.1:2", transport_kind::ws, {}});
  EXPECT_FALSE(d.mark_offline("pk", "dev1", 1)); // the taken-over link closing late
  auto on = d.online("pk", "dev1");
  ASSERT_TRUE(on);
  EXPECT_EQ(on->serial, 2u);
  EXPECT_EQ(on->transport, transport_kind::ws);
  EXPECT_EQ(d.online_count(), 1u);
  EXPECT_TRUE(d.mark_offline("pk", "dev1", 2));
  EXPECT_FALSE(d.online("pk", "dev1"));
  EXPECT_EQ(d.online_count(), 0u);
}

TEST_F(directory_test, a_kept_record_is_replaced_by_a_takeover_and_copied_out) {
  std::string key1 = "pk/dev1", key2 = "pk/dev1";
  broker::compact_string id1("client-one-longer-than-sso"), id2("client-two-longer-than-sso");
  const auto ip1 = broker::peer_address::v4({10, 0, 0, 1}, 1);
  const auto ip2 = broker::peer_address::v4({10, 0, 0, 2}, 2);
  auto first = std::make_unique<online_record>(
      online_record{key1, 1, &id1, &ip1, {}, transport_kind::tcp, true});
  d.mark_online(*first);
  auto on = d.online("pk", "dev1");
  ASSERT_TRUE(on);
  EXPECT_EQ(on->client_id, "client-one-longer-than-sso");
  EXPECT_TRUE(on->ext_rrpc);
  const online_record second{key2, 2, &id2, &ip2, {}, transport_kind::tls, false};
  d.mark_online(second);
  key1.assign(key1.size(), 'x');  // the old connection's record and strings may go once it is
  id1 = broker::compact_string(); // replaced
  first.reset();
  EXPECT_FALSE(d.mark_offline("pk", "dev1", 1));
  on = d.online("pk", "dev1");
  ASSERT_TRUE(on);
  EXPECT_EQ(on->client_id, "client-two-longer-than-sso");
  EXPECT_EQ(on->ip, "10.0.0.2:2");
  EXPECT_FALSE(on->via);
  EXPECT_EQ(d.online_count(), 1u);
  // A sub-device's copied record next to it, then the direct one gone.
  d.mark_online(
      "pk", "sub1",
      online_info{
          2, "sub", "10.0.0.2:2", transport_kind::tls, {}, false, store::device_ref{"pk", "dev1"}});
  EXPECT_TRUE(d.online_via("pk", "sub1", "pk", "dev1"));
  EXPECT_EQ(d.subs_via_count("pk", "dev1"), 1u);
  EXPECT_TRUE(d.mark_offline("pk", "dev1", 2));
  EXPECT_TRUE(d.mark_offline("pk", "sub1", 2));
  EXPECT_EQ(d.subs_via_count("pk", "dev1"), 0u);
  EXPECT_EQ(d.online_count(), 0u);
}

} // namespace
} // namespace thingport::platform
