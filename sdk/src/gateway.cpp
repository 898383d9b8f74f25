#include "thingport/device/gateway.hpp"

#include <algorithm>
#include <random>
#include <stdexcept>

#include <boost/asio/post.hpp>
#include <boost/json/array.hpp>

#include "auth/sign.hpp"
#include "thing/alink.hpp"
#include "thing/json.hpp"
#include "thing/topic.hpp"

namespace thingport::device {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json::array refs_json(const std::vector<device_ref>& subs) {
  json::array out;
  out.reserve(subs.size());
  for (const auto& s : subs)
    out.push_back(json::object{{"productKey", s.product_key}, {"deviceName", s.device_name}});
  return out;
}

// Whether a filter names the sub-device where the platform looks for it: /sys/{pk}/{dn}/...,
// /{pk}/{dn}/... (custom topics), /shadow/{x}/{pk}/{dn}, /ext/{x}/{pk}/{dn}/...,
// /ota/device/{x}/{pk}/{dn}: the filters a gateway holds as that sub-device's gateway.
bool names(std::string_view filter, const device_ref& sub) {
  std::vector<std::string_view> levels;
  for (std::size_t at = 1; at <= filter.size() && levels.size() < 5;) {
    const auto end = std::min(filter.find('/', at), filter.size());
    levels.push_back(filter.substr(at, end - at));
    at = end + 1;
  }
  if (filter.empty() || filter[0] != '/' || levels.size() < 2)
    return false;
  std::size_t first = 0;
  if (levels[0] == "sys")
    first = 1;
  else if (levels[0] == "shadow" || levels[0] == "ext")
    first = 2;
  else if (levels[0] == "ota")
    first = 3;
  return levels.size() >= first + 2 && levels[first] == sub.product_key &&
         levels[first + 1] == sub.device_name;
}

} // namespace

struct gateway::state {
  client& c;
  thing own; // the gateway's own requests and their replies
  std::string pk, dn, sign_method;
  notice_handler on_notice;

  state(client& cl, std::chrono::milliseconds timeout, std::string method)
      : c(cl), own(cl, timeout), pk(cl.config().device.product_key),
        dn(cl.config().device.device_name), sign_method(std::move(method)) {}

  std::string sys(std::string_view rest) const { return thingport::thing::sys_topic(pk, dn, rest); }
  std::string session(std::string_view op) const {
    return "/ext/session/" + pk + "/" + dn + "/combine/" + std::string(op);
  }

  // A logout ends the gateway's right to the sub-devices' topics (the platform drops those
  // filters from its session): the client forgets them too, so no later link asks for them.
  void forget(std::vector<device_ref> subs) {
    c.unsubscribe_if([subs = std::move(subs)](std::string_view f) {
      return std::any_of(subs.begin(), subs.end(),
                         [f](const device_ref& r) { return names(f, r); });
    });
  }

  json::object signed_entry(const triplet& t) const { return sign_entry(t, sign_method, now_ms()); }

  // On the strand: a notice is answered 200, then handed on.
  void notice(const message& m) {
    auto v = thingport::thing::parse_json(m.payload);
    if (!v || !v->is_object())
      return;
    const auto& o = v->as_object();
    const json::value id = o.contains("id") ? o.at("id") : json::value("0");
    std::string method;
    if (const auto* mm = o.if_contains("method"); mm != nullptr && mm->is_string())
      method = std::string(mm->as_string());
    json::object reply{{"id", id},
                       {"code", 200},
                       {"data", json::object()},
                       {"message", "success"},
                       {"version", "1.0"}};
    if (!method.empty())
      reply["method"] = method;
    c.publish(thingport::thing::reply_topic(m.topic), thingport::thing::to_json(reply), 0);
    if (on_notice)
      on_notice(method, o.contains("params") ? o.at("params") : json::value());
  }
};

json::object gateway::sign_entry(const triplet& sub, std::string_view sign_method,
                                 std::int64_t timestamp_ms) {
  const auto method = auth::parse_sign_method(sign_method);
  if (!method)
    throw std::invalid_argument("bad sign method: " + std::string(sign_method));
  const std::string client_id = sub.product_key + "." + sub.device_name;
  const std::string ts = std::to_string(timestamp_ms);
  const auto content = auth::device_sign_content({client_id, sub.device_name, sub.product_key, ts});
  return json::object{{"productKey", sub.product_key},
                      {"deviceName", sub.device_name},
                      {"clientId", client_id},
                      {"timestamp", ts},
                      {"signmethod", auth::to_string(*method)},
                      {"sign", auth::hmac_hex(*method, sub.device_secret, content)}};
}

gateway::gateway(client& c, std::chrono::milliseconds reply_timeout, std::string sign_method)
    : state_(std::make_shared<state>(c, reply_timeout, std::move(sign_method))) {
  if (!auth::parse_sign_method(state_->sign_method))
    throw std::invalid_argument("bad sign method: " + state_->sign_method);
  auto weak = std::weak_ptr<state>(state_);
  auto handler = [weak](const message& m) {
    if (auto s = weak.lock())
      s->notice(m);
  };
  c.subscribe(state_->sys("thing/topo/change"), 1, handler);
  c.subscribe(state_->sys("thing/topo/add/notify"), 1, handler);
}

std::string gateway::add_topo(const std::vector<triplet>& subs, reply_handler done) {
  json::array params;
  for (const auto& t : subs)
    params.push_back(state_->signed_entry(t));
  return state_->own.request(state_->sys("thing/topo/add"), "thing.topo.add", std::move(params),
                             std::move(done));
}

std::string gateway::delete_topo(const std::vector<device_ref>& subs, reply_handler done) {
  return state_->own.request(state_->sys("thing/topo/delete"), "thing.topo.delete", refs_json(subs),
                             std::move(done));
}

std::string gateway::get_topo(reply_handler done) {
  return state_->own.request(state_->sys("thing/topo/get"), "thing.topo.get", json::object(),
                             std::move(done));
}

std::string gateway::register_subs(const std::vector<device_ref>& subs, reply_handler done) {
  return state_->own.request(state_->sys("thing/sub/register"), "thing.sub.register",
                             refs_json(subs), std::move(done));
}

std::string gateway::product_register(const std::vector<device_ref>& subs,
                                      const std::string& product_secret, reply_handler done) {
  static constexpr char hex[] = "0123456789abcdef";
  std::random_device rd;
  json::array proxieds;
  for (const auto& r : subs) {
    std::string random(16, '0');
    for (auto& ch : random)
      ch = hex[rd() % 16];
    proxieds.push_back(
        json::object{{"productKey", r.product_key},
                     {"deviceName", r.device_name},
                     {"random", random},
                     {"signMethod", "hmacSha256"},
                     {"sign", auth::register_sign(auth::sign_method::hmacsha256, product_secret,
                                                  r.device_name, r.product_key, random)}});
  }
  return state_->own.request(state_->sys("thing/proxy/provisioning/product_register"),
                             "thing.proxy.provisioning.product_register",
                             json::object{{"proxieds", std::move(proxieds)}}, std::move(done));
}

std::string gateway::report_found(const std::vector<device_ref>& subs, reply_handler done) {
  return state_->own.request(state_->sys("thing/list/found"), "thing.list.found", refs_json(subs),
                             std::move(done));
}

std::string gateway::login(const triplet& sub, reply_handler done) {
  return state_->own.request(state_->session("login"), "combine.login", state_->signed_entry(sub),
                             std::move(done));
}

std::string gateway::logout(const device_ref& sub, reply_handler done) {
  state_->forget({sub});
  return state_->own.request(
      state_->session("logout"), "combine.logout",
      json::object{{"productKey", sub.product_key}, {"deviceName", sub.device_name}},
      std::move(done));
}

std::string gateway::batch_login(const std::vector<triplet>& subs, reply_handler done) {
  json::array list;
  for (const auto& t : subs)
    list.push_back(state_->signed_entry(t));
  return state_->own.request(state_->session("batch_login"), "combine.batch_login",
                             json::object{{"deviceList", std::move(list)}}, std::move(done));
}

std::string gateway::batch_logout(const std::vector<device_ref>& subs, reply_handler done) {
  state_->forget(subs);
  return state_->own.request(state_->session("batch_logout"), "combine.batch_logout",
                             refs_json(subs), std::move(done));
}

std::string gateway::pack_post(const std::vector<sub_properties>& subs, reply_handler done) {
  json::array list;
  list.reserve(subs.size());
  for (const auto& s : subs)
    list.push_back(json::object{{"identity", json::object{{"productKey", s.sub.product_key},
                                                          {"deviceName", s.sub.device_name}}},
                                {"properties", s.properties}});
  return state_->own.request(state_->sys("thing/event/property/pack/post"),
                             "thing.event.property.pack.post",
                             json::object{{"subDevices", std::move(list)}}, std::move(done));
}

void gateway::on_notice(notice_handler h) {
  asio::post(state_->c.executor(),
             [s = state_, h = std::move(h)]() mutable { s->on_notice = std::move(h); });
}

thing& gateway::self() noexcept {
  return state_->own;
}

void gateway::cancel() {
  state_->own.cancel();
}

} // namespace thingport::device
