#include "platform/services.hpp"

#include <utility>

#include "auth/login.hpp"
#include "broker/broker.hpp"
#include <boost/json.hpp>

#include "platform/topology.hpp"
#include "thing/alink.hpp"
#include "thing/topic.hpp"

namespace thingport::platform {

const broker::options& services::limits() const noexcept {
  return core_.opts();
}

std::uint64_t services::next_message_id() noexcept {
  return core_.next_message_id();
}

void services::publish(message_ptr m, std::function<void(bool)> done) {
  core_.publish(std::move(m), std::move(done));
}

void services::publish_to_device(std::string_view pk, std::string_view dn, message_ptr m,
                                 std::function<void(bool)> done) {
  core_.publish_to(auth::device_session_key(pk, dn), std::move(m), std::move(done));
}

void services::disconnect_device(std::string_view pk, std::string_view dn, close_reason r,
                                 bool discard) {
  core_.disconnect(auth::device_session_key(pk, dn), r, discard);
  // One logged in through a gateway: the gateway hears thing/disable (thing/delete), as the
  // SDKs' gateways expect, then the session ends (once that notice was routed).
  const auto gateway = subs_ != nullptr ? subs_->gateway_online(pk, dn) : std::nullopt;
  if (!gateway)
    return;
  const std::string_view what = discard ? "delete" : "disable";
  const auto id = core_.next_message_id();
  const auto body =
      thing::make_request(std::to_string(id), "thing." + std::string(what), boost::json::object{});
  core_.publish_to(
      auth::device_session_key(gateway->product_key, gateway->device_name),
      make_message(thing::sys_topic(pk, dn, "thing/" + std::string(what)), body, 1, false, id),
      [s = subs_, sub = store::device_ref{std::string(pk), std::string(dn)}](bool) {
        s->end_sub_session(sub);
      });
}

void services::end_sub_session(std::string_view pk, std::string_view dn, std::string_view gpk,
                               std::string_view gdn) {
  if (subs_ != nullptr)
    subs_->end_sub_session({std::string(pk), std::string(dn)}, gpk, gdn);
}

namespace {

boost::json::array sub_list(const std::vector<store::device_ref>& subs) {
  boost::json::array out;
  out.reserve(subs.size());
  for (const auto& r : subs)
    out.push_back(
        boost::json::object{{"productKey", r.product_key}, {"deviceName", r.device_name}});
  return out;
}

} // namespace

void send_topo_change(broker::broker& b, std::string_view gpk, std::string_view gdn, int status,
                      const std::vector<store::device_ref>& subs) {
  if (subs.empty())
    return;
  const auto id = b.next_message_id();
  const auto body =
      thing::make_request(std::to_string(id), "thing.topo.change",
                          boost::json::object{{"status", status}, {"subList", sub_list(subs)}});
  b.publish_to(auth::device_session_key(gpk, gdn),
               make_message(thing::sys_topic(gpk, gdn, "thing/topo/change"), body, 1, false, id));
}

void services::topo_change(std::string_view gpk, std::string_view gdn, int status,
                           const std::vector<store::device_ref>& subs) {
  send_topo_change(core_, gpk, gdn, status, subs);
}

void services::sub_enabled_changed(std::string_view pk, std::string_view dn, bool enabled) {
  auto g = dir_.store().gateway_of(pk, dn);
  if (!g || !g->has_value())
    return;
  topo_change((*g)->product_key, (*g)->device_name, enabled ? topo_enabled : topo_disabled,
              {store::device_ref{std::string(pk), std::string(dn)}});
}

std::string services::topo_add_notify(std::string_view gpk, std::string_view gdn,
                                      const std::vector<store::device_ref>& subs) {
  const auto id = core_.next_message_id();
  auto text = std::to_string(id);
  const auto body = thing::make_request(text, "thing.topo.add.notify", sub_list(subs));
  core_.publish_to(
      auth::device_session_key(gpk, gdn),
      make_message(thing::sys_topic(gpk, gdn, "thing/topo/add/notify"), body, 1, false, id));
  return text;
}

} // namespace thingport::platform
