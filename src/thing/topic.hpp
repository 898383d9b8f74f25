// The topics the thing layer serves (docs/protocol.md "Alink messages"), told apart without
// allocating, and the topics it answers and sends on. Pure functions; any thread.
//
// Upstream (device → platform):
//   /sys/{pk}/{dn}/thing/event/property/post            property_post
//   /sys/{pk}/{dn}/thing/event/property/batch/post      property_batch_post
//   /sys/{pk}/{dn}/thing/event/property/history/post    property_history_post
//   /sys/{pk}/{dn}/thing/event/property/pack/post       property_pack_post (a gateway's)
//   /sys/{pk}/{dn}/thing/event/{id}/post                event_post
//   /sys/{pk}/{dn}/thing/property/desired/get|delete    desired_get / desired_delete
//   /sys/{pk}/{dn}/thing/deviceinfo/update|delete       deviceinfo_update / deviceinfo_delete
//   /sys/{pk}/{dn}/thing/dsltemplate/get                dsltemplate_get
//   /sys/{pk}/{dn}/thing/topo/add|delete|get            topo_add / topo_delete / topo_get
//   /sys/{pk}/{dn}/thing/sub/register                   sub_register
//   /sys/{pk}/{dn}/thing/list/found                     list_found
//   /sys/{pk}/{dn}/thing/proxy/provisioning/product_register  proxy_product_register
//   /sys/{pk}/{dn}/thing/service/property/set_reply     property_set_reply
//   /sys/{pk}/{dn}/thing/service/{id}_reply             service_reply
//   /sys/{pk}/{dn}/rrpc/response/{msgId}                rrpc_response
//   /ext/rrpc/{msgId}/{topic}                           ext_rrpc_response (topic: the device's)
//   /ext/ntp/{pk}/{dn}/request                          ntp_request
//   /shadow/update/{pk}/{dn}                            shadow_update
//   /ota/device/inform/{pk}/{dn}                        ota_inform
//   /ext/session/{pk}/{dn}/combine/login|logout          combine_login / combine_logout
//   /ext/session/{pk}/{dn}/combine/batch_login|batch_logout  combine_batch_login / _logout
// Any other /sys/{pk}/{dn}/... topic is unknown_request, or unknown_reply when it ends in
// "_reply" (never answered: a reply to a reply could loop).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace thingport::thing {

enum class topic_kind : std::uint8_t {
  not_thing, // not a topic of the thing layer
  property_post,
  property_batch_post,
  property_history_post,
  property_pack_post,
  event_post,
  desired_get,
  desired_delete,
  deviceinfo_update,
  deviceinfo_delete,
  dsltemplate_get,
  topo_add,
  topo_delete,
  topo_get,
  sub_register,
  property_set_reply,
  service_reply,
  rrpc_response,
  ext_rrpc_response,
  ntp_request,
  shadow_update,
  ota_inform,
  combine_login,
  combine_logout,
  combine_batch_login,
  combine_batch_logout,
  list_found,             // /sys/{pk}/{dn}/thing/list/found (a gateway's)
  proxy_product_register, // /sys/{pk}/{dn}/thing/proxy/provisioning/product_register
  unknown_request,
  unknown_reply,
};

std::string_view to_string(topic_kind k) noexcept;

// Views into the topic given to classify_topic().
struct topic_info {
  topic_kind kind = topic_kind::not_thing;
  std::string_view product_key{}; // empty for ext_rrpc_response (the inner topic names them)
  std::string_view device_name{};
  std::string_view identifier{}; // event_post / service_reply: the identifier; RRPC: msgId
  std::string_view rest{};       // /sys topics: the part after /sys/{pk}/{dn}/;
                                 // ext_rrpc_response: the inner topic
};

topic_info classify_topic(std::string_view topic) noexcept;

// The Alink method a /sys request topic stands for: "thing/event/property/post" →
// "thing.event.property.post". Empty for anything but a /sys request.
std::string method_of(const topic_info& t);

// Topics the platform publishes on.
std::string sys_topic(std::string_view pk, std::string_view dn, std::string_view rest);
std::string reply_topic(std::string_view request_topic); // request topic + "_reply"
std::string ntp_response_topic(std::string_view pk, std::string_view dn);
std::string shadow_get_topic(std::string_view pk, std::string_view dn);
// Topics a device publishes on (the SDK's side).
std::string ntp_request_topic(std::string_view pk, std::string_view dn);
std::string shadow_update_topic(std::string_view pk, std::string_view dn);
std::string rrpc_response_topic(std::string_view pk, std::string_view dn, std::string_view msg_id);
std::string property_set_topic(std::string_view pk, std::string_view dn);
std::string service_topic(std::string_view pk, std::string_view dn, std::string_view service_id);
std::string rrpc_request_topic(std::string_view pk, std::string_view dn, std::string_view msg_id);
// /ext/rrpc/{msgId}/{topic}; `topic` is the device's own topic, with its leading '/'.
std::string ext_rrpc_topic(std::string_view msg_id, std::string_view topic);
// Forwarded for applications (docs/protocol.md "The cloud side"):
// /{pk}/{dn}/thing/event/property/post, ...
std::string forward_topic(std::string_view pk, std::string_view dn, std::string_view rest);

} // namespace thingport::thing
