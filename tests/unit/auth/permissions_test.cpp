#include "auth/permissions.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace thingport::auth {
namespace {

std::shared_ptr<const product_permissions> make_product() {
  const std::vector<topic_class> classes{
      {"/${productKey}/${deviceName}/user/cmd", access::sub},
      {"/{pk}/{dn}/user/data", access::pub},
      {"/${pk}/${deviceName}/user/+/status", access::sub},
      {"/pk1/${deviceName}/user/lit", access::all},          // the product's key written literally
      {"/${productKey}/${deviceName}/user/#", access::pub},  // wildcard in a pub class: refused
      {"/${productKey}/${deviceName}/control", access::sub}, // not under /user/: refused
      {"/sys/${productKey}/${deviceName}/x", access::all},   // refused
  };
  return std::make_shared<const product_permissions>("pk1", classes);
}

class AuthPermissions : public ::testing::Test {
protected:
  std::shared_ptr<const product_permissions> product = make_product();
  client_permissions dev = client_permissions::device(product, "dev1");

  bool pub(std::string_view t) const { return dev.can_publish(t); }
  bool sub(std::string_view f) const { return dev.can_subscribe(f); }
};

TEST_F(AuthPermissions, UndefinedTopicDenied) {
  EXPECT_FALSE(sub("/pk1/dev1/control"));
  EXPECT_FALSE(pub("/pk1/dev1/control"));
  EXPECT_FALSE(sub("/pk1/dev1/user/other"));
  EXPECT_FALSE(pub("/pk1/dev1/user/other"));
  EXPECT_EQ(product->rejected(), 3U);
}

TEST_F(AuthPermissions, DefaultUserClasses) {
  EXPECT_TRUE(pub("/pk1/dev1/user/update"));
  EXPECT_FALSE(sub("/pk1/dev1/user/update"));
  EXPECT_TRUE(pub("/pk1/dev1/user/update/error"));
  EXPECT_FALSE(sub("/pk1/dev1/user/update/error"));
  EXPECT_TRUE(sub("/pk1/dev1/user/get"));
  EXPECT_FALSE(pub("/pk1/dev1/user/get"));
  // legacy
  EXPECT_TRUE(pub("/pk1/dev1/update"));
  EXPECT_TRUE(pub("/pk1/dev1/update/error"));
  EXPECT_TRUE(sub("/pk1/dev1/get"));
  EXPECT_FALSE(pub("/pk1/dev1/get"));
  EXPECT_FALSE(sub("/pk1/dev1/update"));
}

TEST_F(AuthPermissions, SystemClasses) {
  EXPECT_TRUE(pub("/sys/pk1/dev1/thing/event/property/post"));
  EXPECT_TRUE(sub("/sys/pk1/dev1/thing/event/property/post_reply"));
  EXPECT_TRUE(sub("/sys/pk1/dev1/thing/service/property/set"));
  EXPECT_TRUE(pub("/sys/pk1/dev1/thing/service/property/set_reply"));
  EXPECT_TRUE(sub("/sys/pk1/dev1/rrpc/request/+"));
  EXPECT_TRUE(pub("/sys/pk1/dev1/rrpc/response/1234"));
  EXPECT_TRUE(sub("/sys/pk1/dev1/broadcast/request/+"));
  EXPECT_FALSE(pub("/sys/pk1/dev1/broadcast/request/1"));
  EXPECT_FALSE(sub("/sys/pk1/dev1/other"));

  EXPECT_TRUE(pub("/shadow/update/pk1/dev1"));
  EXPECT_FALSE(sub("/shadow/update/pk1/dev1"));
  EXPECT_TRUE(sub("/shadow/get/pk1/dev1"));
  EXPECT_FALSE(pub("/shadow/get/pk1/dev1"));

  EXPECT_TRUE(pub("/ota/device/inform/pk1/dev1"));
  EXPECT_TRUE(pub("/ota/device/progress/pk1/dev1"));
  EXPECT_TRUE(pub("/ota/device/request/pk1/dev1"));
  EXPECT_TRUE(sub("/ota/device/request/pk1/dev1"));
  EXPECT_TRUE(sub("/ota/device/upgrade/pk1/dev1"));
  EXPECT_FALSE(pub("/ota/device/upgrade/pk1/dev1"));
  EXPECT_FALSE(sub("/ota/device/inform/pk1/dev1"));
  EXPECT_FALSE(sub("/ota/device/+/pk1/dev1"));

  EXPECT_TRUE(pub("/ext/ntp/pk1/dev1/request"));
  EXPECT_TRUE(sub("/ext/ntp/pk1/dev1/response"));
  EXPECT_FALSE(sub("/ext/ntp/pk1/dev1/request"));
  EXPECT_TRUE(sub("/ext/error/pk1/dev1"));
  EXPECT_FALSE(pub("/ext/error/pk1/dev1"));
  EXPECT_TRUE(pub("/ext/session/pk1/dev1/combine/login"));
  EXPECT_TRUE(sub("/ext/session/pk1/dev1/combine/login_reply"));

  EXPECT_TRUE(sub("/broadcast/pk1/all"));
  EXPECT_TRUE(sub("/broadcast/pk1/a/b"));
  EXPECT_TRUE(sub("/broadcast/pk1/#"));
  EXPECT_FALSE(pub("/broadcast/pk1/all"));
  EXPECT_FALSE(sub("/broadcast/pk2/all"));
}

TEST_F(AuthPermissions, OtherDevicesAndProductsDenied) {
  for (std::string_view t :
       {"/pk1/dev2/user/get", "/pk2/dev1/user/get", "/sys/pk1/dev2/thing/service/property/set",
        "/shadow/get/pk1/dev2", "/ota/device/upgrade/pk2/dev1", "/ext/error/pk1/dev2",
        "/pk1/dev2/user/cmd", "/sys/pk2/dev1/rrpc/request/1"}) {
    EXPECT_FALSE(sub(t)) << t;
  }
  for (std::string_view t : {"/pk1/dev2/user/update", "/sys/pk1/dev2/thing/event/property/post",
                             "/shadow/update/pk1/dev2", "/pk1/dev2/user/data"}) {
    EXPECT_FALSE(pub(t)) << t;
  }
}

TEST_F(AuthPermissions, CustomClasses) {
  EXPECT_TRUE(sub("/pk1/dev1/user/cmd"));
  EXPECT_FALSE(pub("/pk1/dev1/user/cmd"));
  EXPECT_TRUE(pub("/pk1/dev1/user/data"));
  EXPECT_FALSE(sub("/pk1/dev1/user/data"));
  EXPECT_TRUE(sub("/pk1/dev1/user/+/status"));
  EXPECT_TRUE(sub("/pk1/dev1/user/lamp/status"));
  EXPECT_FALSE(pub("/pk1/dev1/user/lamp/status"));
  EXPECT_TRUE(pub("/pk1/dev1/user/lit"));
  EXPECT_TRUE(sub("/pk1/dev1/user/lit"));
  EXPECT_FALSE(pub("/pk1/dev1/user/anything")); // the refused "user/#" pub class
}

TEST_F(AuthPermissions, WildcardSubscriptions) {
  EXPECT_TRUE(sub("/sys/pk1/dev1/thing/#"));
  EXPECT_TRUE(sub("/sys/pk1/dev1/thing/event/+/post_reply"));
  EXPECT_TRUE(sub("/sys/pk1/dev1/rrpc/#"));
  EXPECT_FALSE(sub("/sys/pk1/+/thing/#"));
  EXPECT_FALSE(sub("/sys/+/dev1/thing/#"));
  EXPECT_FALSE(sub("/sys/pk1/dev1/#"));
  EXPECT_FALSE(sub("/sys/#"));
  EXPECT_FALSE(sub("#"));
  EXPECT_FALSE(sub("+/#"));
  EXPECT_FALSE(sub("/pk1/dev1/user/#")); // no class ends in '#' there
  EXPECT_FALSE(sub("/pk1/dev1/user/+")); // would include user/update (pub only)
  EXPECT_FALSE(sub("/pk1/+/user/get"));
  EXPECT_FALSE(sub("/+/dev1/user/get"));
}

TEST_F(AuthPermissions, Limits) {
  // 7 '/' at most outside /sys/, 128 bytes at most everywhere.
  EXPECT_TRUE(pub("/ext/session/pk1/dev1/combine/a/b"));
  EXPECT_FALSE(pub("/ext/session/pk1/dev1/combine/a/b/c"));
  EXPECT_TRUE(pub("/sys/pk1/dev1/thing/event/property/batch/post")); // Alink: 8 '/'
  EXPECT_TRUE(pub("/sys/pk1/dev1/thing/a/b/c/d/e/f/g/h"));
  const std::string base = "/sys/pk1/dev1/thing/";
  EXPECT_TRUE(pub(base + std::string(128 - base.size(), 'x')));
  EXPECT_FALSE(pub(base + std::string(129 - base.size(), 'x')));
  EXPECT_FALSE(sub(base + std::string(129 - base.size(), 'x')));
}

TEST_F(AuthPermissions, InvalidTopicsAndNames) {
  EXPECT_FALSE(pub("/sys/pk1/dev1/thing/+"));
  EXPECT_FALSE(pub("/sys/pk1/dev1/thing/#"));
  EXPECT_FALSE(sub("/sys/pk1/dev1/thing/#/x"));
  EXPECT_FALSE(sub("/sys/pk1/dev1/thing/a#"));
  EXPECT_FALSE(pub(std::string("/sys/pk1/dev1/thing/\0", 21)));
  EXPECT_FALSE(pub(""));
  EXPECT_FALSE(sub(""));
  // A name that is not a valid identity has no permissions at all.
  for (std::string_view bad : {"+", "#", "de/v", "dev"}) {
    EXPECT_FALSE(product->device_can_subscribe(bad, "/sys/pk1/+/thing/#")) << bad;
    const auto c = client_permissions::device(product, bad);
    EXPECT_FALSE(c.can_subscribe("/pk1/+/user/get")) << bad;
    EXPECT_FALSE(c.can_publish("/pk1/dev/user/update")) << bad;
  }
}

TEST_F(AuthPermissions, ExtRrpc) {
  EXPECT_TRUE(sub("/ext/rrpc/+/pk1/dev1/user/get"));
  EXPECT_TRUE(sub("/ext/rrpc/+//pk1/dev1/user/get"));
  EXPECT_TRUE(sub("/ext/rrpc/+/pk1/dev1/user/cmd"));
  EXPECT_TRUE(sub("/ext/rrpc/+/sys/pk1/dev1/thing/service/+"));
  EXPECT_TRUE(pub("/ext/rrpc/1138654706478941696/pk1/dev1/user/get"));
  EXPECT_TRUE(pub("/ext/rrpc/1138654706478941696//pk1/dev1/user/get"));
  EXPECT_FALSE(sub("/ext/rrpc/+/pk1/dev2/user/get"));
  EXPECT_FALSE(pub("/ext/rrpc/1/pk1/dev2/user/get"));
  EXPECT_FALSE(sub("/ext/rrpc/+/pk1/dev1/user/update")); // not a topic it receives on
  EXPECT_FALSE(sub("/ext/rrpc/#"));
  EXPECT_FALSE(sub("/ext/rrpc/+/#"));
  EXPECT_FALSE(sub("/ext/rrpc/#/pk1/dev1/user/get"));
  EXPECT_FALSE(sub("/ext/rrpc/+"));
  EXPECT_FALSE(sub("/ext/rrpc//pk1/dev1/user/get"));
  EXPECT_FALSE(sub("/ext/rrpc/+/ext/rrpc/+/pk1/dev1/user/get"));
  EXPECT_FALSE(pub("/ext/rrpc/" + std::string(65, '1') + "/pk1/dev1/user/get"));
}

TEST_F(AuthPermissions, SsFilters) {
  const std::vector<std::string> f = ss_filters("pk1", "dev1");
  for (const std::string& filter : f) {
    EXPECT_TRUE(sub(filter)) << filter;
  }
  auto has = [&](std::string_view s) { return std::find(f.begin(), f.end(), s) != f.end(); };
  EXPECT_TRUE(has("/sys/pk1/dev1/thing/service/property/set"));
  EXPECT_TRUE(has("/sys/pk1/dev1/thing/service/+"));
  EXPECT_TRUE(has("/sys/pk1/dev1/thing/service/property/get"));
  EXPECT_TRUE(has("/sys/pk1/dev1/rrpc/request/+"));
  EXPECT_TRUE(has("/sys/pk1/dev1/thing/event/+/post_reply"));
  EXPECT_TRUE(has("/sys/pk1/dev1/thing/config/push"));
  EXPECT_TRUE(has("/ota/device/upgrade/pk1/dev1"));
  EXPECT_TRUE(has("/shadow/get/pk1/dev1"));
  EXPECT_TRUE(has("/ext/ntp/pk1/dev1/response"));
  EXPECT_TRUE(has("/ext/error/pk1/dev1"));
  EXPECT_TRUE(has("/sys/pk1/dev1/broadcast/request/+"));
  EXPECT_TRUE(has("/sys/pk1/dev1/thing/topo/add_reply"));
  EXPECT_TRUE(has("/ext/session/pk1/dev1/combine/login_reply"));
  // Nothing that matches the device's own uplink requests.
  EXPECT_FALSE(has("/sys/pk1/dev1/thing/#"));
  EXPECT_FALSE(has("/sys/pk1/dev1/thing/event/property/post"));
}

TEST_F(AuthPermissions, GatewaySubDevices) {
  auto other = std::make_shared<const product_permissions>("pk2");
  client_permissions gw = client_permissions::device(product, "gate1");
  EXPECT_FALSE(gw.can_publish("/sys/pk2/sub1/thing/event/property/post"));
  gw.add_sub_device(other, "sub1");
  gw.add_sub_device(other, "sub1"); // once
  EXPECT_EQ(gw.sub_device_count(), 1U);
  EXPECT_TRUE(gw.can_publish("/sys/pk2/sub1/thing/event/property/post"));
  EXPECT_TRUE(gw.can_subscribe("/sys/pk2/sub1/thing/#"));
  EXPECT_TRUE(gw.can_receive("/shadow/get/pk2/sub1"));
  EXPECT_FALSE(gw.can_subscribe("/sys/pk2/sub2/thing/#"));
  EXPECT_FALSE(gw.can_subscribe("/sys/pk1/sub1/thing/#"));
  EXPECT_TRUE(gw.can_subscribe("/sys/pk1/gate1/thing/#"));
  gw.remove_sub_device("pk2", "sub1");
  EXPECT_FALSE(gw.can_publish("/sys/pk2/sub1/thing/event/property/post"));
}

TEST_F(AuthPermissions, Applications) {
  auto other = std::make_shared<const product_permissions>("pk2");
  const client_permissions app = client_permissions::app({product, nullptr});
  for (std::string_view f :
       {"/pk1/+/user/#", "/sys/pk1/+/thing/event/+/post", "/as/mqtt/status/pk1/+",
        "/pk1/+/thing/event/property/post", "/pk1/dev1/user/update", "/pk1/#", "/sys/pk1/#",
        "/shadow/+/pk1/+", "/ota/device/+/pk1/+", "/ext/rrpc/+/pk1/+/user/get",
        "/ext/rrpc/+/sys/pk1/+/thing/service/+", "/broadcast/pk1/#"}) {
    EXPECT_TRUE(app.can_subscribe(f)) << f;
  }
  for (std::string_view f : {"/pk2/+/user/#", "/+/+/user/#", "#", "/sys/#", "/sys/+/+/thing/#",
                             "/as/mqtt/status/+/+", "/shadow/#", "/other"}) {
    EXPECT_FALSE(app.can_subscribe(f)) << f;
  }
  // Publish: wherever some device of its products may subscribe.
  for (std::string_view t :
       {"/pk1/dev9/user/cmd", "/pk1/dev9/user/get", "/pk1/dev9/get",
        "/sys/pk1/dev9/thing/service/property/set", "/sys/pk1/dev9/rrpc/request/42",
        "/broadcast/pk1/all", "/ext/rrpc/42/pk1/dev9/user/get", "/shadow/get/pk1/dev9",
        "/pk1/dev9/user/lamp/status"}) {
    EXPECT_TRUE(app.can_publish(t)) << t;
  }
  for (std::string_view t : {"/pk1/dev9/user/update", "/pk1/dev9/user/data", "/pk1/+/user/get",
                             "/pk2/dev9/user/get", "/pk1/ab/user/get", "/shadow/update/pk1/dev9",
                             "/as/mqtt/status/pk1/dev9", "/pk1/dev9/control"}) {
    EXPECT_FALSE(app.can_publish(t)) << t;
  }
  const client_permissions both = client_permissions::app({product, other});
  EXPECT_TRUE(both.can_subscribe("/pk2/+/user/#"));
  EXPECT_TRUE(both.can_publish("/pk2/dev9/user/get"));
  EXPECT_FALSE(both.can_publish("/pk2/dev9/user/cmd")); // pk2 has no such class
}

TEST_F(AuthPermissions, AnonymousAndNone) {
  const client_permissions anon = client_permissions::anonymous();
  EXPECT_TRUE(anon.can_subscribe("#"));
  EXPECT_TRUE(anon.can_publish("any/topic"));
  EXPECT_FALSE(anon.can_publish("a/+"));
  EXPECT_FALSE(anon.can_subscribe("a/#/b"));
  const client_permissions none;
  EXPECT_FALSE(none.can_subscribe("/pk1/dev1/user/get"));
  EXPECT_FALSE(none.can_publish("/pk1/dev1/user/update"));
  EXPECT_FALSE(client_permissions::device(nullptr, "dev1").can_publish("/pk1/dev1/user/update"));
}

TEST(AuthTopicClass, Validation) {
  EXPECT_EQ(topic_class_error("/${productKey}/${deviceName}/user/cmd", access::sub), "");
  EXPECT_EQ(topic_class_error("/{pk}/{dn}/user/a/+", access::sub), "");
  EXPECT_EQ(topic_class_error("/pk1/${deviceName}/user/cmd", access::pub, "pk1"), "");
  EXPECT_NE(topic_class_error("/pk1/${deviceName}/user/cmd", access::pub, "pk2"), "");
  EXPECT_NE(topic_class_error("/{pk}/{dn}/user/a/+", access::pub), "");
  EXPECT_NE(topic_class_error("/{pk}/{dn}/user/#", access::all), "");
  EXPECT_NE(topic_class_error("/{pk}/{dn}/user", access::sub), "");
  EXPECT_NE(topic_class_error("/{pk}/{dn}/control", access::sub), "");
  EXPECT_NE(topic_class_error("/{pk}/+/user/x", access::sub), "");
  EXPECT_NE(topic_class_error("/{pk}/{dn}/user//x", access::sub), "");
  EXPECT_NE(topic_class_error("/{pk}/{dn}/user/a/b/c/d/e", access::sub), "");
  EXPECT_EQ(topic_class_error("/{pk}/{dn}/user/a/b/c/d", access::sub), "");
  EXPECT_NE(topic_class_error("/{pk}/{dn}/user/x", access::none), "");
  EXPECT_NE(topic_class_error("{pk}/{dn}/user/x", access::sub), "");
  EXPECT_EQ(parse_access("all"), access::all);
  EXPECT_EQ(parse_access("pub"), access::pub);
  EXPECT_FALSE(parse_access("both"));
  EXPECT_EQ(to_string(access::sub), "sub");
}

} // namespace
} // namespace thingport::auth
