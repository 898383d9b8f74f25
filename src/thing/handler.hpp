// The thing layer's entry point: one message a device published, in; what to do about it, out.
// The broker's router hands every PUBLISH whose topic classify_topic() knows (/sys/..., /ext/ntp,
// /ext/rrpc, /shadow/update, /ota/device/inform) to handle(), after its permission check, with
// the identity the device logged in with, the product's thing model and the current time, and
// carries out the actions it returns. handle() does no I/O, reads no clock and never throws on
// what the device sent; it reads device state only through the device_state it is given.
//
//   handler_result r = thing::handle({.topic = t, .payload = p, .device = {pk, dn},
//                                     .now = store::now()}, model.get(), state);
//   for (const thing::action& a : r.actions) {        // in order
//     if (!carry_out(a)) {                            // a store action failed:
//       if (r.failure_reply) publish(*r.failure_reply); // 500 instead of the reply
//       break;                                        // and nothing after it
//     }
//   }
//
// Order of the actions: store actions first, then the publish to the device (the reply), then
// the forwards for applications. So a device only hears 200 for what was stored.
//
// Threads: handle() is a pure function; call it from any thread. The actions of two messages
// of one device must be carried out in the order the messages came (one connection, one
// worker: natural), and shadow updates need the store's compare-and-set (store_shadow_action
// carries the version it read).
#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

#include "thing/alink.hpp"
#include "thing/json.hpp"
#include "thing/post.hpp"
#include "thing/requests.hpp"
#include "thing/shadow.hpp"
#include "thing/topic.hpp"
#include "thing/tsl.hpp"

namespace thingport::thing {

struct desired_value {
  std::string identifier{};
  std::string value{}; // JSON text, as stored
  std::int64_t version = 0;
};

// What handle() may need to read about the device. The wiring implements it over the thing
// store (or a cache); it is called at most once per message, on the caller's thread.
class device_state {
public:
  virtual ~device_state() = default;
  // Desired values of these properties; all of them when `identifiers` is empty. Values not set
  // are left out.
  virtual result<std::vector<desired_value>> desired(std::span<const std::string> identifiers) = 0;
  // The device's shadow; an empty one (version 0) when it has none.
  virtual result<shadow> current_shadow() = 0;
};

// ---- actions --------------------------------------------------------------------------------

// Publish to the device: an Alink reply, the NTP response, the shadow's answer.
struct publish_action {
  std::string topic{};
  std::string payload{};
  friend bool operator==(const publish_action&, const publish_action&) = default;
};

// Publish for applications (docs/protocol.md "The cloud side", forward.hpp).
struct forward_action {
  std::string topic{};
  std::string payload{};
  friend bool operator==(const forward_action&, const forward_action&) = default;
};

struct stored_property {
  std::string identifier{};
  std::string value{}; // JSON text
  time_point time{};
  friend bool operator==(const stored_property&, const stored_property&) = default;
};

// Latest value and history of each; one transaction for the whole list.
struct store_properties_action {
  std::vector<stored_property> items{};
};

struct stored_event {
  std::string identifier{};
  std::string type{};   // "info" / "alert" / "error"; empty without a thing model
  std::string output{}; // JSON object text
  time_point time{};
  friend bool operator==(const stored_event&, const stored_event&) = default;
};

struct store_events_action {
  std::vector<stored_event> items{};
};

// thing.topo.add / delete / get and thing.sub.register from a gateway: the platform does them
// (it holds the topology, the devices and their secrets) and answers `req` on `reply_topic` when
// req.ack.
struct topology_action {
  topic_kind kind = topic_kind::topo_get;
  request req{};
  std::string reply_topic{};
};

struct set_attributes_action {
  std::vector<attribute> items{};
};

struct delete_attributes_action {
  std::vector<std::string> keys{};
};

struct delete_desired_action {
  std::vector<desired_delete> items{};
};

// Store `document` as the shadow at `version` if the stored one is still at
// `expected_version` (else the store reports a conflict and the failure reply applies).
struct store_shadow_action {
  std::string document{};
  std::int64_t version = 0;
  std::int64_t expected_version = 0;
};

enum class downlink_kind : std::uint8_t { property_set, service, rrpc };

// The device answered a downlink request (downlink.hpp): record the outcome SUCCESS with the
// device's code and reply, and wake whoever waits for it (a sync service call, RRPC).
struct complete_downlink_action {
  downlink_kind kind = downlink_kind::service;
  std::string id{};         // the request id / RRPC msgId
  std::string identifier{}; // service: its identifier; rrpc over /ext/rrpc: the inner topic
  int code = 200;           // the device's code (rrpc: 200)
  std::string reply{};      // Alink: the reply's data as JSON text; rrpc: the raw payload
};

// /ota/device/inform: the firmware version of a module.
struct ota_version_action {
  ota_version value{};
};

using action = std::variant<publish_action, forward_action, store_properties_action,
                            store_events_action, set_attributes_action, delete_attributes_action,
                            delete_desired_action, store_shadow_action, complete_downlink_action,
                            ota_version_action, topology_action>;

// ---- the call -------------------------------------------------------------------------------

struct device_ref {
  std::string_view product_key{};
  std::string_view device_name{};
};

struct inbound {
  std::string_view topic{};
  std::string_view payload{};
  device_ref device{}; // who published: the login's identity, not the topic's
  time_point now{};
};

struct handler_options {
  json_limits json{};
  post_limits posts{};
};

struct handler_result {
  topic_kind kind = topic_kind::not_thing;
  // Why the message was refused or dropped (thing::code), for logs and metrics; empty when it
  // was served. A refused request is usually still answered (an action publishes the code).
  std::error_code ec{};
  std::vector<action> actions{};
  // When a store action fails: publish this instead of the reply (500). Empty when the device
  // gets no reply (sys.ack = 0, replies, NTP) or nothing is stored.
  std::optional<publish_action> failure_reply{};
};

// `model` is the product's thing model, nullptr when it has none (every value is taken).
handler_result handle(const inbound& msg, const thing_model* model, device_state& state,
                      const handler_options& options = {});

} // namespace thingport::thing
