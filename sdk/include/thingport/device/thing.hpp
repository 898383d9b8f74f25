// Alink thing-model helpers over a client (docs/protocol.md "Alink messages"): property and event
// posts with their replies matched by id, property sets, service calls and RRPC answered
// automatically, the device shadow (reports; desired state applied, reported and cleared
// automatically), NTP time sync. Topics are /sys/{productKey}/{deviceName}/... of the client's
// device triplet.
//
// Threads: like the client, every handler and reply callback runs on the client's strand; the
// member functions may be called from any thread. Construct the thing before client::start() (its
// subscriptions are then in the first SUBSCRIBE) or at any time after. The client must outlive
// the thing.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "thingport/device/client.hpp"

namespace thingport::device {

struct alink_reply {
  std::string id;
  int code = 0; // 200 ok; see docs/protocol.md "Alink messages" for the others
  boost::json::value data;
  std::string message;
  std::string method;
};

// What a property-set, service or RRPC handler answers.
struct alink_result {
  int code = 200;
  boost::json::value data = boost::json::object();
  std::string message = "success";
};

class thing {
public:
  // ec: errc::reply_timeout, errc::bad_reply, or the publish's error (buffer_full, stopped).
  using reply_handler = std::function<void(std::error_code, const alink_reply&)>;
  using property_set_handler = std::function<alink_result(const boost::json::object& params)>;
  using service_handler =
      std::function<alink_result(std::string_view identifier, const boost::json::value& params)>;
  using rrpc_handler =
      std::function<std::string(std::string_view msg_id, std::string_view payload)>;
  // offset: server time minus device time, from the platform's NTP exchange.
  using ntp_handler = std::function<void(std::error_code, std::chrono::milliseconds offset)>;

  // Subscribes `c` to the device's reply and downlink topics. Throws std::invalid_argument when
  // the client has no device triplet.
  explicit thing(client& c, std::chrono::milliseconds reply_timeout = std::chrono::seconds(10));
  // The same helpers for device product_key/device_name over `c`'s link: a gateway's sub-device
  // (gateway.hpp), constructed once it is logged in through the gateway (before that the
  // platform refuses the gateway its topics). Throws std::invalid_argument for empty names.
  thing(client& c, std::string product_key, std::string device_name,
        std::chrono::milliseconds reply_timeout = std::chrono::seconds(10));

  // A generic Alink request {"id","version":"1.0","params","method"} on `topic` (any topic of
  // this link); `done` gets the reply with the same id on `reply_topic` (empty: topic +
  // "_reply"), which is subscribed the first time it is named. Returns the id.
  std::string request(std::string topic, std::string method, boost::json::value params,
                      reply_handler done = {}, std::uint8_t qos = 1, std::string reply_topic = {});

  // Publishes an Alink request {"id","version":"1.0","params","method"} on
  // thing/event/property/post; `done` gets the post_reply (or an error). Returns the id.
  std::string post_properties(boost::json::object params, reply_handler done = {},
                              std::uint8_t qos = 1);
  // thing/event/{identifier}/post with params {"value":value,"time":now ms}.
  std::string post_event(std::string_view identifier, boost::json::object value,
                         reply_handler done = {}, std::uint8_t qos = 1);

  // thing/service/property/set: the handler's result is sent on .../property/set_reply. Without
  // a handler the set is answered with code 400.
  void on_property_set(property_set_handler h);
  // thing/service/{identifier}: answered on thing/service/{identifier}_reply.
  void on_service(service_handler h);
  // rrpc/request/{msgId}: the returned payload is published on rrpc/response/{msgId}.
  void on_rrpc(rrpc_handler h);
  // Sends {"deviceSendTime"} on /ext/ntp/{pk}/{dn}/request; `done` gets the offset computed from
  // the response's serverRecvTime and serverSendTime, or errc::reply_timeout. Several may wait at
  // once, even sent in the same millisecond: responses answer them oldest first.
  void sync_time(ntp_handler done);

  // Device shadow: requests go on /shadow/update/{pk}/{dn}, answers come on /shadow/get/{pk}/{dn}
  // ({"method":"reply","payload":{"status":"success"|"error",..},..}), matched in order.
  using shadow_handler = std::function<void(std::error_code, const boost::json::object& reply)>;
  // The cloud's desired state (method "control") and the shadow version it came with. Return the
  // values now in effect: they are reported and desired is cleared, automatically; nullopt
  // leaves the shadow as it is.
  using shadow_control_handler = std::function<std::optional<boost::json::object>(
      const boost::json::object& desired, std::int64_t version)>;
  // {"method":"update","state":{"reported":..},"version":N}; version 0 leaves it out (the server
  // then takes the shadow's version + 1).
  void shadow_report(boost::json::object reported, std::int64_t version = 0,
                     shadow_handler done = {});
  // {"method":"get"}: the reply's payload carries state and metadata.
  void shadow_get(shadow_handler done);
  void on_shadow_control(shadow_control_handler h);

  // Fails every request still waiting for its reply (and NTP sync) with errc::stopped and stops
  // their timers, so an io_context can run out of work. Call along with client::stop().
  void cancel();

  // "/sys/{pk}/{dn}/" + rest
  std::string topic(std::string_view rest) const;

  struct state;

private:
  std::shared_ptr<state> state_;
};

// An Alink reply as the platform sends it; nullopt when `payload` is not one.
std::optional<alink_reply> parse_alink_reply(std::string_view payload);

// The NTP offset: ((serverRecv - deviceSend) + (serverSend - deviceRecv)) / 2, all in ms.
std::chrono::milliseconds ntp_offset(std::int64_t device_send, std::int64_t server_recv,
                                     std::int64_t server_send, std::int64_t device_recv) noexcept;

} // namespace thingport::device
