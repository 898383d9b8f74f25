#include "thingport/device/ota.hpp"

#include <atomic>
#include <map>
#include <mutex>
#include <stdexcept>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

#include "file_blocks.hpp"
#include "thingport/device/error.hpp"

namespace thingport::device {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

std::optional<json::object> object_of(std::string_view payload) {
  if (payload.size() > 256 * 1024)
    return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  if (ec || !v.is_object())
    return std::nullopt;
  return std::move(v.as_object());
}

using detail::text;

std::uint64_t number(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr)
    return 0;
  if (v->is_uint64())
    return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0)
    return static_cast<std::uint64_t>(v->as_int64());
  if (v->is_string()) {
    try {
      return std::stoull(std::string(v->as_string()));
    } catch (const std::exception&) {
      return 0;
    }
  }
  return 0;
}

std::string lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return s;
}

config_info config_of(const json::object& fields) {
  config_info c;
  c.config_id = text(fields, "configId");
  c.size = number(fields, "configSize");
  c.sign = lower(text(fields, "sign"));
  c.sign_method = text(fields, "signMethod");
  c.url = text(fields, "url");
  c.get_type = text(fields, "getType");
  return c;
}

} // namespace

struct ota::state : std::enable_shared_from_this<ota::state> {
  client& cl;
  std::string pk, dn;
  std::chrono::milliseconds timeout;
  std::atomic<std::uint64_t> next_id{1};
  std::mutex mu; // the handlers and the pending gets (any thread sets; the strand reads)
  upgrade_handler upgrade;
  push_handler push;
  struct pending {
    config_handler done;
    std::shared_ptr<asio::steady_timer> timer;
  };
  std::map<std::string, pending> gets;
  std::shared_ptr<detail::block_download> blocks; // on the strand only

  state(client& c, std::chrono::milliseconds t) : cl(c), timeout(t) {}

  std::string id() { return std::to_string(next_id.fetch_add(1)); }
  std::string sys(std::string_view rest) const {
    return "/sys/" + pk + "/" + dn + "/" + std::string(rest);
  }

  void on_upgrade(const message& m) {
    auto o = object_of(m.payload);
    const auto* d = o ? o->if_contains("data") : nullptr;
    if (d == nullptr || !d->is_object())
      return;
    const auto& f = d->as_object();
    upgrade_info u;
    u.version = text(f, "version");
    if (auto mod = text(f, "module"); !mod.empty())
      u.module = mod;
    u.url = text(f, "url");
    u.size = number(f, "size");
    u.md5 = lower(text(f, "md5"));
    u.sign = lower(text(f, "sign"));
    u.sign_method = text(f, "signMethod");
    if (lower(u.sign_method) == "sha256")
      u.sha256 = u.sign;
    else if (lower(u.sign_method) == "md5" && u.md5.empty())
      u.md5 = u.sign;
    if (auto p = text(f, "dProtocol"); !p.empty())
      u.protocol = lower(p);
    u.stream_id = number(f, "streamId");
    u.stream_file_id = number(f, "streamFileId");
    upgrade_handler h;
    {
      std::lock_guard lock(mu);
      h = upgrade;
    }
    const bool by_blocks = u.protocol == "mqtt" && u.stream_id != 0;
    if (h && (!u.url.empty() || by_blocks))
      h(u);
  }

  void on_get_reply(const message& m) {
    auto o = object_of(m.payload);
    if (!o)
      return;
    const auto rid = text(*o, "id");
    pending p;
    {
      std::lock_guard lock(mu);
      auto it = gets.find(rid);
      if (it == gets.end())
        return;
      p = std::move(it->second);
      gets.erase(it);
    }
    p.timer->cancel();
    const auto* d = o->if_contains("data");
    config_info info = d != nullptr && d->is_object() ? config_of(d->as_object()) : config_info{};
    info.id = rid;
    info.code = static_cast<int>(number(*o, "code"));
    if (info.code == 200 && info.url.empty())
      p.done(make_error_code(errc::bad_reply), info);
    else
      p.done({}, info);
  }

  void on_push(const message& m) {
    auto o = object_of(m.payload);
    const auto* params = o ? o->if_contains("params") : nullptr;
    if (params == nullptr || !params->is_object())
      return;
    auto info = config_of(params->as_object());
    info.id = text(*o, "id");
    push_handler h;
    {
      std::lock_guard lock(mu);
      h = push;
    }
    const int code = h ? h(info) : 200;
    json::value id(info.id);
    if (const auto* v = o->if_contains("id"))
      id = *v;
    cl.publish(sys("thing/config/push_reply"),
               json::serialize(json::object{{"id", id}, {"code", code}, {"data", json::object{}}}),
               0);
  }
};

ota::ota(client& c, std::chrono::milliseconds reply_timeout)
    : state_(std::make_shared<state>(c, reply_timeout)) {
  const auto& dev = c.config().device;
  if (dev.product_key.empty() || dev.device_name.empty())
    throw std::invalid_argument("ota: the client has no device triplet");
  state_->pk = dev.product_key;
  state_->dn = dev.device_name;
  std::weak_ptr<state> w = state_;
  c.subscribe("/ota/device/upgrade/" + state_->pk + "/" + state_->dn, 1, [w](const message& m) {
    if (auto s = w.lock())
      s->on_upgrade(m);
  });
  c.subscribe(state_->sys("thing/config/get_reply"), 0, [w](const message& m) {
    if (auto s = w.lock())
      s->on_get_reply(m);
  });
  c.subscribe(state_->sys("thing/config/push"), 1, [w](const message& m) {
    if (auto s = w.lock())
      s->on_push(m);
  });
  // The SUBACK comes again after every reconnect: a block download asks again at once.
  c.subscribe(
      state_->sys("thing/file/download_reply"), 0,
      [w](const message& m) {
        if (auto s = w.lock(); s && s->blocks)
          s->blocks->on_reply(m.payload);
      },
      [w](std::error_code ec, int) {
        if (auto s = w.lock(); s && !ec && s->blocks)
          s->blocks->on_link_up();
      });
}

ota::~ota() {
  std::map<std::string, state::pending> gets;
  {
    std::lock_guard lock(state_->mu);
    gets.swap(state_->gets);
    state_->upgrade = nullptr;
    state_->push = nullptr;
  }
  for (auto& [id, p] : gets)
    p.timer->cancel();
  asio::post(state_->cl.executor(), [s = state_] {
    if (s->blocks)
      s->blocks->drop();
    s->blocks.reset();
  });
}

void ota::download_blocks(block_download_request r, block_done done) {
  asio::post(state_->cl.executor(), [s = state_, r = std::move(r), done = std::move(done)] {
    if (s->blocks && !s->blocks->finished()) {
      download_result res;
      res.error = make_error_code(errc::invalid_argument);
      done(res);
      return;
    }
    s->blocks = std::make_shared<detail::block_download>(s->cl, s->sys("thing/file/download"),
                                                         std::move(r), std::move(done));
    s->blocks->start();
  });
}

void ota::on_upgrade(upgrade_handler h) {
  std::lock_guard lock(state_->mu);
  state_->upgrade = std::move(h);
}

void ota::on_config_push(push_handler h) {
  std::lock_guard lock(state_->mu);
  state_->push = std::move(h);
}

void ota::inform(std::string version, std::string module) {
  json::object params{{"version", std::move(version)}};
  if (!module.empty() && module != "default")
    params["module"] = std::move(module);
  state_->cl.publish("/ota/device/inform/" + state_->pk + "/" + state_->dn,
                     json::serialize(json::object{{"id", state_->id()}, {"params", params}}), 1);
}

void ota::progress(int step, std::string desc, std::string module) {
  json::object params{{"step", std::to_string(step)}, {"desc", std::move(desc)}};
  if (!module.empty())
    params["module"] = std::move(module);
  state_->cl.publish("/ota/device/progress/" + state_->pk + "/" + state_->dn,
                     json::serialize(json::object{{"id", state_->id()}, {"params", params}}), 0);
}

void ota::request(std::string version, std::string module) {
  json::object params{{"version", std::move(version)}, {"module", std::move(module)}};
  state_->cl.publish("/ota/device/request/" + state_->pk + "/" + state_->dn,
                     json::serialize(json::object{{"id", state_->id()}, {"params", params}}), 1);
}

void ota::get_config(config_handler done) {
  auto s = state_;
  const auto rid = s->id();
  auto timer = std::make_shared<asio::steady_timer>(s->cl.executor(), s->timeout);
  {
    std::lock_guard lock(s->mu);
    s->gets[rid] = {std::move(done), timer};
  }
  std::weak_ptr<state> w = s;
  timer->async_wait([w, rid](boost::system::error_code ec) {
    auto st = w.lock();
    if (ec || !st)
      return;
    state::pending p;
    {
      std::lock_guard lock(st->mu);
      auto it = st->gets.find(rid);
      if (it == st->gets.end())
        return;
      p = std::move(it->second);
      st->gets.erase(it);
    }
    config_info c;
    c.id = rid;
    p.done(make_error_code(errc::reply_timeout), c);
  });
  s->cl.publish(s->sys("thing/config/get"),
                json::serialize(json::object{
                    {"id", rid},
                    {"version", "1.0"},
                    {"params", json::object{{"configScope", "product"}, {"getType", "file"}}},
                    {"method", "thing.config.get"}}),
                0);
}

} // namespace thingport::device
