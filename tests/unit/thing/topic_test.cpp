// Topic classification: every topic of docs/protocol.md "Alink messages", and what is not one.
#include "thing/topic.hpp"

#include <gtest/gtest.h>

namespace thingport::thing::test {

TEST(Topic, SysTopics) {
  struct row {
    std::string_view topic;
    topic_kind kind;
    std::string_view identifier;
    std::string_view method;
  };
  const row rows[] = {
      {"/sys/pk/dn/thing/event/property/post", topic_kind::property_post, "",
       "thing.event.property.post"},
      {"/sys/pk/dn/thing/event/property/batch/post", topic_kind::property_batch_post, "",
       "thing.event.property.batch.post"},
      {"/sys/pk/dn/thing/event/property/history/post", topic_kind::property_history_post, "",
       "thing.event.property.history.post"},
      {"/sys/pk/dn/thing/event/HardwareError/post", topic_kind::event_post, "HardwareError",
       "thing.event.HardwareError.post"},
      {"/sys/pk/dn/thing/property/desired/get", topic_kind::desired_get, "",
       "thing.property.desired.get"},
      {"/sys/pk/dn/thing/property/desired/delete", topic_kind::desired_delete, "",
       "thing.property.desired.delete"},
      {"/sys/pk/dn/thing/deviceinfo/update", topic_kind::deviceinfo_update, "",
       "thing.deviceinfo.update"},
      {"/sys/pk/dn/thing/deviceinfo/delete", topic_kind::deviceinfo_delete, "",
       "thing.deviceinfo.delete"},
      {"/sys/pk/dn/thing/dsltemplate/get", topic_kind::dsltemplate_get, "",
       "thing.dsltemplate.get"},
      {"/sys/pk/dn/thing/topo/add", topic_kind::topo_add, "", "thing.topo.add"},
      {"/sys/pk/dn/thing/topo/delete", topic_kind::topo_delete, "", "thing.topo.delete"},
      {"/sys/pk/dn/thing/topo/get", topic_kind::topo_get, "", "thing.topo.get"},
      {"/sys/pk/dn/thing/sub/register", topic_kind::sub_register, "", "thing.sub.register"},
      {"/sys/pk/dn/thing/service/property/set_reply", topic_kind::property_set_reply, "", ""},
      {"/sys/pk/dn/thing/service/Reboot_reply", topic_kind::service_reply, "Reboot", ""},
      {"/sys/pk/dn/rrpc/response/1067456658214756352", topic_kind::rrpc_response,
       "1067456658214756352", ""},
      {"/sys/pk/dn/thing/event/property/post_reply", topic_kind::unknown_reply, "", ""},
      {"/sys/pk/dn/thing/service/property/get_reply", topic_kind::unknown_reply, "", ""},
      {"/sys/pk/dn/thing/foo/bar", topic_kind::unknown_request, "", "thing.foo.bar"},
      {"/sys/pk/dn/thing/event/a-b/post", topic_kind::unknown_request, "", "thing.event.a-b.post"},
      {"/sys/pk/dn/rrpc/response/", topic_kind::unknown_request, "", "rrpc.response."},
  };
  for (const row& r : rows) {
    const topic_info t = classify_topic(r.topic);
    EXPECT_EQ(t.kind, r.kind) << r.topic << " got " << to_string(t.kind);
    EXPECT_EQ(t.product_key, "pk") << r.topic;
    EXPECT_EQ(t.device_name, "dn") << r.topic;
    EXPECT_EQ(t.identifier, r.identifier) << r.topic;
    EXPECT_EQ(method_of(t), r.method) << r.topic;
  }
}

TEST(Topic, OtherTopics) {
  topic_info t = classify_topic("/ext/ntp/pk/dn/request");
  EXPECT_EQ(t.kind, topic_kind::ntp_request);
  EXPECT_EQ(t.device_name, "dn");
  t = classify_topic("/shadow/update/pk/dn");
  EXPECT_EQ(t.kind, topic_kind::shadow_update);
  EXPECT_EQ(t.product_key, "pk");
  t = classify_topic("/ota/device/inform/pk/dn");
  EXPECT_EQ(t.kind, topic_kind::ota_inform);
  EXPECT_EQ(classify_topic("/sys/pk/dn/thing/event/property/pack/post").kind,
            topic_kind::property_pack_post);
  t = classify_topic("/ext/session/gpk/gdn/combine/login");
  EXPECT_EQ(t.kind, topic_kind::combine_login);
  EXPECT_EQ(t.product_key, "gpk");
  EXPECT_EQ(t.device_name, "gdn");
  EXPECT_EQ(method_of(t), "combine.login");
  EXPECT_EQ(classify_topic("/ext/session/gpk/gdn/combine/logout").kind, topic_kind::combine_logout);
  EXPECT_EQ(classify_topic("/ext/session/gpk/gdn/combine/login_reply").kind, topic_kind::not_thing);
  EXPECT_EQ(classify_topic("/ext/session/gpk/gdn/combine/batch_login").kind,
            topic_kind::combine_batch_login);
  EXPECT_EQ(classify_topic("/ext/session/gpk/gdn/combine/batch_logout").kind,
            topic_kind::combine_batch_logout);
  EXPECT_EQ(classify_topic("/ext/session/gpk/gdn/combine/other").kind, topic_kind::not_thing);
  t = classify_topic("/ext/rrpc/99/pk/dn/user/get");
  EXPECT_EQ(t.kind, topic_kind::ext_rrpc_response);
  EXPECT_EQ(t.identifier, "99");
  EXPECT_EQ(t.rest, "/pk/dn/user/get");

  for (std::string_view not_thing : {"",
                                     "/",
                                     "/sys",
                                     "/sys/",
                                     "/sys/pk",
                                     "/sys/pk/dn",
                                     "/sys/pk/dn/",
                                     "/sys//dn/thing/x",
                                     "/pk/dn/user/update",
                                     "/ext/ntp/pk/dn/response",
                                     "/ext/ntp/pk/dn",
                                     "/shadow/get/pk/dn",
                                     "/shadow/update/pk/dn/",
                                     "/shadow/update/pk/dn/x",
                                     "/shadow/update/pk",
                                     "/ota/device/upgrade/pk/dn",
                                     "/ext/rrpc/99",
                                     "/ext/rrpc//pk/dn",
                                     "/ext/rrpc/99/",
                                     "sys/pk/dn/thing/event/property/post"}) {
    EXPECT_EQ(classify_topic(not_thing).kind, topic_kind::not_thing) << not_thing;
  }
}

TEST(Topic, Builders) {
  EXPECT_EQ(reply_topic("/sys/pk/dn/thing/event/property/post"),
            "/sys/pk/dn/thing/event/property/post_reply");
  EXPECT_EQ(ntp_response_topic("pk", "dn"), "/ext/ntp/pk/dn/response");
  EXPECT_EQ(shadow_get_topic("pk", "dn"), "/shadow/get/pk/dn");
  EXPECT_EQ(property_set_topic("pk", "dn"), "/sys/pk/dn/thing/service/property/set");
  EXPECT_EQ(service_topic("pk", "dn", "Reboot"), "/sys/pk/dn/thing/service/Reboot");
  EXPECT_EQ(rrpc_request_topic("pk", "dn", "7"), "/sys/pk/dn/rrpc/request/7");
  EXPECT_EQ(ext_rrpc_topic("7", "/pk/dn/user/cmd"), "/ext/rrpc/7/pk/dn/user/cmd");
  EXPECT_EQ(forward_topic("pk", "dn", "thing/event/property/post"),
            "/pk/dn/thing/event/property/post");
  EXPECT_EQ(sys_topic("pk", "dn", "thing/x"), "/sys/pk/dn/thing/x");
}

} // namespace thingport::thing::test
