#include "thingport/device/thing.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>

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

// NTP times are decimal strings or numbers ("the same JSON types").
std::optional<std::int64_t> time_value(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr)
    return std::nullopt;
  if (v->is_int64())
    return v->as_int64();
  if (v->is_uint64())
    return static_cast<std::int64_t>(v->as_uint64());
  if (v->is_double())
    return static_cast<std::int64_t>(v->as_double());
  if (const auto* s = v->if_string()) {
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), n);
    if (ec == std::errc{} && end == s->data() + s->size())
      return n;
  }
  return std::nullopt;
}

// The thing layer's bounded parse (depth, size): what the platform sends is input too.
std::optional<json::object> parse_object(std::string_view payload) {
  auto v = thingport::thing::parse_json(payload);
  if (!v || !v->is_object())
    return std::nullopt;
  return std::move(v->as_object());
}

} // namespace

std::optional<alink_reply> parse_alink_reply(std::string_view payload) {
  auto o = parse_object(payload);
  if (!o)
    return std::nullopt;
  alink_reply r;
  const auto* id = o->if_contains("id");
  const auto* code = o->if_contains("code");
  if (id == nullptr || code == nullptr || !code->is_number())
    return std::nullopt;
  r.id = thingport::thing::id_text(*id); // "123" or 123 -> "123"; anything else -> ""
  if (r.id.empty())
    return std::nullopt;
  boost::system::error_code ec;
  r.code = code->to_number<int>(ec);
  if (ec)
    return std::nullopt;
  if (const auto* d = o->if_contains("data"))
    r.data = *d;
  if (const auto* m = o->if_contains("message"); m != nullptr && m->is_string())
    r.message = std::string(m->as_string());
  if (const auto* m = o->if_contains("method"); m != nullptr && m->is_string())
    r.method = std::string(m->as_string());
  return r;
}

std::chrono::milliseconds ntp_offset(std::int64_t device_send, std::int64_t server_recv,
                                     std::int64_t server_send, std::int64_t device_recv) noexcept {
  return std::chrono::milliseconds(((server_recv - device_send) + (server_send - device_recv)) / 2);
}

// Lives on the client's strand; shared with the subscription handlers.
struct thing::state : std::enable_shared_from_this<thing::state> {
  client& c;
  std::string pk;
  std::string dn;
  std::string prefix; // /sys/{pk}/{dn}/
  std::chrono::milliseconds timeout;
  std::atomic<std::uint64_t> next_id{1};
  struct waiting {
    reply_handler done;
    std::shared_ptr<asio::steady_timer> timer;
  };
  std::map<std::string, waiting> replies;
  // NTP requests by their deviceSendTime; two sent in the same millisecond both wait (the
  // responses answer them in order), each until its reply or its timeout.
  std::multimap<std::string, std::pair<ntp_handler, std::shared_ptr<asio::steady_timer>>> ntp;
  std::deque<std::pair<shadow_handler, std::shared_ptr<asio::steady_timer>>> shadow_waiting;
  shadow_control_handler on_control;
  property_set_handler on_set;
  service_handler on_service;
  rrpc_handler on_rrpc;

  std::mutex reply_topics_mu;
  std::set<std::string, std::less<>> reply_topics; // subscribed by request()

  state(client& cl, std::string p, std::string d, std::chrono::milliseconds t)
      : c(cl), pk(std::move(p)), dn(std::move(d)), prefix(thingport::thing::sys_topic(pk, dn, "")),
        timeout(t) {}

  std::string request(std::string_view rest, std::string method, json::value params,
                      reply_handler done, std::uint8_t qos) {
    return request_on(prefix + std::string(rest), std::move(method), std::move(params),
                      std::move(done), qos);
  }

  std::string request_on(std::string topic, std::string method, json::value params,
                         reply_handler done, std::uint8_t qos) {
    std::string id = std::to_string(next_id.fetch_add(1));
    json::object env{{"id", id},
                     {"version", "1.0"},
                     {"params", std::move(params)},
                     {"method", std::move(method)}};
    asio::post(c.executor(), [self = shared_from_this(), id, done = std::move(done)]() mutable {
      if (!done)
        return;
      auto timer = std::make_shared<asio::steady_timer>(self->c.executor(), self->timeout);
      timer->async_wait([weak = std::weak_ptr<state>(self), id](boost::system::error_code ec) {
        auto s = weak.lock();
        if (ec || !s)
          return;
        s->complete(id, make_error_code(errc::reply_timeout), {});
      });
      self->replies[id] = waiting{std::move(done), std::move(timer)};
    });
    // The publish is posted after the bookkeeping above, on the same strand: the reply finds it.
    c.publish(std::move(topic), thingport::thing::to_json(env), qos, false,
              [self = shared_from_this(), id](std::error_code ec) {
                if (ec)
                  self->complete(id, ec, {});
              });
    return id;
  }

  void complete(const std::string& id, std::error_code ec, const alink_reply& r) {
    auto it = replies.find(id);
    if (it == replies.end())
      return;
    auto w = std::move(it->second);
    replies.erase(it);
    w.timer->cancel();
    w.done(ec, r);
  }

  void on_reply(const message& m) {
    auto r = parse_alink_reply(m.payload);
    if (!r)
      return;
    complete(r->id, {}, *r);
  }

  void answer(std::string reply_topic, const json::value& id, std::string_view method,
              const alink_result& res) {
    json::object out{{"id", id},
                     {"code", res.code},
                     {"data", res.data},
                     {"message", res.message},
                     {"version", "1.0"}};
    if (!method.empty())
      out["method"] = method;
    c.publish(std::move(reply_topic), thingport::thing::to_json(out), 0);
  }

  // thing/service/... : property/set, {identifier}; our own *_reply echoes are ignored.
  void on_service_topic(const message& m) {
    std::string_view rest =
        m.topic.substr(prefix.size() + std::string_view("thing/service/").size());
    if (rest.ends_with("_reply"))
      return;
    auto req = parse_object(m.payload);
    json::value id = req && req->contains("id") ? req->at("id") : json::value("0");
    std::string method;
    if (req) {
      if (const auto* mm = req->if_contains("method"); mm != nullptr && mm->is_string())
        method = std::string(mm->as_string());
    }
    const json::value params =
        req && req->contains("params") ? req->at("params") : json::value(json::object());
    const std::string reply_topic = thingport::thing::reply_topic(m.topic);
    if (!req)
      return answer(reply_topic, id, method, {400, json::object(), "request is not JSON"});
    if (rest == "property/set") {
      if (!on_set)
        return answer(reply_topic, id, method, {400, json::object(), "no handler"});
      if (!params.is_object())
        return answer(reply_topic, id, method, {460, json::object(), "params not an object"});
      return answer(reply_topic, id, method, on_set(params.as_object()));
    }
    if (rest.find('/') != std::string_view::npos)
      return; // property/get etc.: not handled
    if (!on_service)
      return answer(reply_topic, id, method, {400, json::object(), "no handler"});
    answer(reply_topic, id, method, on_service(rest, params));
  }

  void on_rrpc_request(const message& m) {
    const std::string_view head = "rrpc/request/";
    std::string_view msg_id = m.topic.substr(prefix.size() + head.size());
    if (!on_rrpc)
      return;
    std::string out = on_rrpc(msg_id, m.payload);
    c.publish(thingport::thing::rrpc_response_topic(pk, dn, msg_id), std::move(out), 0);
  }

  // On the strand. `done` may be empty (an automatic report): its reply is consumed unseen.
  void shadow_request(json::object req, shadow_handler done) {
    auto timer = std::make_shared<asio::steady_timer>(c.executor(), timeout);
    timer->async_wait([weak = std::weak_ptr<state>(shared_from_this()),
                       t = timer.get()](boost::system::error_code ec) {
      auto s = weak.lock();
      if (ec || !s)
        return;
      // Whatever waited behind a lost reply would be matched with the wrong one: fail them all.
      auto queued = std::move(s->shadow_waiting);
      s->shadow_waiting.clear();
      for (auto& [h, tm] : queued) {
        if (tm.get() != t)
          tm->cancel();
        if (h)
          h(make_error_code(errc::reply_timeout), {});
      }
    });
    shadow_waiting.emplace_back(std::move(done), std::move(timer));
    c.publish(thingport::thing::shadow_update_topic(pk, dn), thingport::thing::to_json(req), 1);
  }

  void on_shadow(const message& m) {
    auto o = parse_object(m.payload);
    if (!o)
      return;
    const auto* method = o->if_contains("method");
    if (method == nullptr || !method->is_string())
      return;
    if (method->as_string() == "reply") {
      if (shadow_waiting.empty())
        return;
      auto [h, timer] = std::move(shadow_waiting.front());
      shadow_waiting.pop_front();
      timer->cancel();
      if (h)
        h({}, *o);
      return;
    }
    if (method->as_string() != "control" || !on_control)
      return;
    const auto* payload = o->if_contains("payload");
    const auto* st = payload != nullptr && payload->is_object()
                         ? payload->as_object().if_contains("state")
                         : nullptr;
    const auto* desired =
        st != nullptr && st->is_object() ? st->as_object().if_contains("desired") : nullptr;
    if (desired == nullptr || !desired->is_object())
      return;
    const std::int64_t version = time_value(*o, "version").value_or(0);
    auto applied = on_control(desired->as_object(), version);
    if (!applied)
      return;
    json::object req{
        {"method", "update"},
        {"state", json::object{{"reported", std::move(*applied)}, {"desired", "null"}}}};
    shadow_request(std::move(req), {});
  }

  void on_ntp(const message& m) {
    const auto recv = now_ms();
    auto o = parse_object(m.payload);
    if (!o)
      return;
    const auto* send_v = o->if_contains("deviceSendTime");
    if (send_v == nullptr)
      return;
    std::string key =
        send_v->is_string() ? std::string(send_v->as_string()) : json::serialize(*send_v);
    auto it = ntp.lower_bound(key); // the oldest of those sent in that millisecond
    if (it == ntp.end() || it->first != key)
      return;
    auto [done, timer] = std::move(it->second);
    ntp.erase(it);
    timer->cancel();
    auto ds = time_value(*o, "deviceSendTime");
    auto sr = time_value(*o, "serverRecvTime");
    auto ss = time_value(*o, "serverSendTime");
    if (!ds || !sr || !ss)
      return done(make_error_code(errc::bad_reply), {});
    done({}, ntp_offset(*ds, *sr, *ss, recv));
  }
};

thing::thing(client& c, std::chrono::milliseconds reply_timeout)
    : thing(c, c.config().device.product_key, c.config().device.device_name, reply_timeout) {}

thing::thing(client& c, std::string product_key, std::string device_name,
             std::chrono::milliseconds reply_timeout)
    : state_(std::make_shared<state>(c, std::move(product_key), std::move(device_name),
                                     reply_timeout)) {
  if (state_->pk.empty() || state_->dn.empty())
    throw std::invalid_argument("thing: no device triplet");
  auto weak = std::weak_ptr<state>(state_);
  auto bind = [weak](void (state::*fn)(const message&)) {
    return [weak, fn](const message& m) {
      if (auto s = weak.lock())
        ((*s).*fn)(m);
    };
  };
  const std::string& p = state_->prefix;
  c.subscribe(p + "thing/event/+/post_reply", 0, bind(&state::on_reply));
  c.subscribe(p + "thing/service/#", 1, bind(&state::on_service_topic));
  c.subscribe(p + "rrpc/request/+", 0, bind(&state::on_rrpc_request));
  c.subscribe(thingport::thing::ntp_response_topic(state_->pk, state_->dn), 0,
              bind(&state::on_ntp));
  c.subscribe(thingport::thing::shadow_get_topic(state_->pk, state_->dn), 1,
              bind(&state::on_shadow));
}

std::string thing::request(std::string topic, std::string method, json::value params,
                           reply_handler done, std::uint8_t qos, std::string reply_topic) {
  if (reply_topic.empty())
    reply_topic = thingport::thing::reply_topic(topic);
  bool fresh = false;
  {
    std::lock_guard lock(state_->reply_topics_mu);
    fresh = state_->reply_topics.insert(reply_topic).second;
  }
  if (fresh) // subscribed before the request goes out: the server sees them in that order
    state_->c.subscribe(reply_topic, 1, [weak = std::weak_ptr<state>(state_)](const message& m) {
      if (auto s = weak.lock())
        s->on_reply(m);
    });
  return state_->request_on(std::move(topic), std::move(method), std::move(params), std::move(done),
                            qos);
}

std::string thing::post_properties(json::object params, reply_handler done, std::uint8_t qos) {
  return state_->request("thing/event/property/post", "thing.event.property.post",
                         std::move(params), std::move(done), qos);
}

std::string thing::post_event(std::string_view identifier, json::object value, reply_handler done,
                              std::uint8_t qos) {
  json::object params{{"value", std::move(value)}, {"time", now_ms()}};
  return state_->request("thing/event/" + std::string(identifier) + "/post",
                         "thing.event." + std::string(identifier) + ".post", std::move(params),
                         std::move(done), qos);
}

void thing::on_property_set(property_set_handler h) {
  asio::post(state_->c.executor(),
             [s = state_, h = std::move(h)]() mutable { s->on_set = std::move(h); });
}

void thing::on_service(service_handler h) {
  asio::post(state_->c.executor(),
             [s = state_, h = std::move(h)]() mutable { s->on_service = std::move(h); });
}

void thing::on_rrpc(rrpc_handler h) {
  asio::post(state_->c.executor(),
             [s = state_, h = std::move(h)]() mutable { s->on_rrpc = std::move(h); });
}

void thing::sync_time(ntp_handler done) {
  const std::string sent = std::to_string(now_ms());
  asio::post(state_->c.executor(), [s = state_, sent, done = std::move(done)]() mutable {
    auto timer = std::make_shared<asio::steady_timer>(s->c.executor(), s->timeout);
    timer->async_wait(
        [weak = std::weak_ptr<state>(s), sent, t = timer.get()](boost::system::error_code ec) {
          auto st = weak.lock();
          if (ec || !st)
            return;
          auto [first, last] = st->ntp.equal_range(sent);
          auto it =
              std::find_if(first, last, [t](const auto& e) { return e.second.second.get() == t; });
          if (it == last)
            return;
          auto h = std::move(it->second.first);
          st->ntp.erase(it);
          h(make_error_code(errc::reply_timeout), {});
        });
    s->ntp.emplace(sent, std::pair{std::move(done), std::move(timer)});
  });
  json::object req{{"deviceSendTime", sent}};
  state_->c.publish(thingport::thing::ntp_request_topic(state_->pk, state_->dn),
                    thingport::thing::to_json(req), 0);
}

void thing::shadow_report(json::object reported, std::int64_t version, shadow_handler done) {
  json::object req{{"method", "update"},
                   {"state", json::object{{"reported", std::move(reported)}}}};
  if (version != 0)
    req["version"] = version;
  asio::post(state_->c.executor(),
             [s = state_, req = std::move(req), d = std::move(done)]() mutable {
               s->shadow_request(std::move(req), std::move(d));
             });
}

void thing::shadow_get(shadow_handler done) {
  asio::post(state_->c.executor(), [s = state_, d = std::move(done)]() mutable {
    s->shadow_request(json::object{{"method", "get"}}, std::move(d));
  });
}

void thing::on_shadow_control(shadow_control_handler h) {
  asio::post(state_->c.executor(),
             [s = state_, h = std::move(h)]() mutable { s->on_control = std::move(h); });
}

void thing::cancel() {
  asio::post(state_->c.executor(), [s = state_] {
    auto replies = std::move(s->replies);
    auto ntp = std::move(s->ntp);
    s->replies.clear();
    s->ntp.clear();
    for (auto& [id, w] : replies) {
      w.timer->cancel();
      w.done(make_error_code(errc::stopped), {});
    }
    auto shadows = std::move(s->shadow_waiting);
    s->shadow_waiting.clear();
    for (auto& [h, timer] : shadows) {
      timer->cancel();
      if (h)
        h(make_error_code(errc::stopped), {});
    }
    for (auto& [sent, h] : ntp) {
      h.second->cancel();
      h.first(make_error_code(errc::stopped), {});
    }
  });
}

std::string thing::topic(std::string_view rest) const {
  return state_->prefix + std::string(rest);
}

} // namespace thingport::device
