#include "platform/device_policy.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <iterator>
#include <unordered_set>
#include <vector>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "auth/error.hpp"
#include "auth/identity.hpp"
#include "broker/broker.hpp"

namespace thingport::platform {

namespace {

constexpr std::uint8_t aliyun_kind = 1;

// The platform's status message format: "2018-08-31 15:32:28.205" (here in UTC).
std::string format_time(store::timestamp t) {
  const auto ms = t.time_since_epoch().count() % 1000;
  return fmt::format("{:%Y-%m-%d %H:%M:%S}.{:03}", std::chrono::floor<std::chrono::seconds>(t), ms);
}

// "2018-08-31T15:32:28.205Z".
std::string format_utc(store::timestamp t) {
  const auto ms = t.time_since_epoch().count() % 1000;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", std::chrono::floor<std::chrono::seconds>(t),
                     ms);
}

const aliyun_identity* as_aliyun(const client_identity& who) noexcept {
  return who.policy_kind == aliyun_kind ? static_cast<const aliyun_identity*>(&who) : nullptr;
}

// Fills what the identity keeps of a login: its kind, flags, iotId and (devices and
// registration links, whose session key is "d|pk/dn" or "r|pk/dn") views of pk and dn.
// `id.session_key` is set already (a copy of li's).
void keep_login(aliyun_identity& id, const auth::login_identity& li) {
  id.kind = li.kind;
  id.rrpc_ext = li.rrpc_ext();
  id.has_iot_id = auth::from_hex(li.iot_id, id.iot_id_bytes);
  const std::string_view key = id.session_key;
  const auto pk = li.product_key.size(), dn = li.device_name.size();
  if (!li.product_key.empty() && pk <= 255 && key.size() == 2 + pk + 1 + dn &&
      key.substr(2, pk) == li.product_key && key.substr(3 + pk) == li.device_name)
    id.pk_size = static_cast<std::uint8_t>(pk);
  else if (id.kind == auth::client_kind::device)
    id.kind = auth::client_kind::anonymous; // never: login.cpp makes "d|pk/dn"; not a device
}

// std::allocate_shared's allocator for an identity with its session key after it: one allocation
// per device's identity instead of two (memory per idle device, docs/performance.md). The extra
// bytes are asked for, and their address given back, through `tail_request` on the calling
// thread, so the allocator stays stateless (nothing of it is kept in the shared block).
struct tail_request_t {
  std::size_t bytes = 0;
  char* at = nullptr;
};
thread_local tail_request_t tail_request;

template <class T> struct tail_allocator {
  using value_type = T;
  tail_allocator() = default;
  template <class U> tail_allocator(const tail_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    const std::size_t body = n * sizeof(T);
    auto* p = static_cast<char*>(::operator new(body + tail_request.bytes));
    tail_request.at = p + body;
    return reinterpret_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }
  friend bool operator==(const tail_allocator&, const tail_allocator&) noexcept { return true; }
};

// An identity whose session_key views its own copy of `key`, kept in the same allocation.
std::shared_ptr<aliyun_identity> make_identity(std::string_view key) {
  tail_request = {key.size(), nullptr};
  auto id = std::allocate_shared<aliyun_identity>(tail_allocator<aliyun_identity>{});
  char* tail = std::exchange(tail_request, {}).at;
  std::copy(key.begin(), key.end(), tail);
  id->session_key = std::string_view(tail, key.size());
  return id;
}

} // namespace

std::string aliyun_identity::iot_id() const {
  return has_iot_id ? auth::to_hex(iot_id_bytes) : std::string();
}

std::optional<device_login_ref> device_login(const client_identity& who) noexcept {
  const auto* a = as_aliyun(who);
  if (a == nullptr || !a->is_device())
    return std::nullopt;
  return a->device();
}

device_policy::device_policy(directory& dir, device_policy_options opts)
    : dir_(dir), opts_(std::move(opts)),
      generic_(opts_.login.allow_anonymous, opts_.deny_subscribe, opts_.max_generic_subscriptions,
               opts_.max_generic_sessions) {
  if (opts_.connect_rate != 0) {
    auth::connect_rate_limiter::options lo;
    lo.max_attempts = opts_.connect_rate;
    limiter_.emplace(lo);
  }
  if (opts_.login_failures != 0) {
    auth::connect_rate_limiter::options lo;
    lo.max_attempts = opts_.login_failures;
    failures_.emplace(lo);
  }
  writer_ = std::thread([this] { writer_loop(); });
}

device_policy::~device_policy() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  writer_.join();
}

connect_decision device_policy::authenticate(const mqtt::connect_packet& c,
                                             const transport_info& t) {
  const bool tls = t.kind == transport_kind::tls || t.kind == transport_kind::wss;
  auto req = auth::make_connect_request(c, tls);
  const std::string source = t.remote_address.host();
  req.source = source;
  auto r = auth::login(req, dir_, opts_.login, limiter_ ? &*limiter_ : nullptr,
                       auth::connect_rate_limiter::clock::now(), failures_ ? &*failures_ : nullptr);
  if (!r.accepted())
    return connect_refusal{r.code, r.ec.message()};
  auto& li = r.identity;
  switch (li.kind) {
  case auth::client_kind::anonymous:
    return generic_.authenticate(c, t);
  case auth::client_kind::register_device:
  case auth::client_kind::register_nwl:
    return accept_registration(li);
  case auth::client_kind::device:
  case auth::client_kind::app:
    break;
  }
  auto id = make_identity(li.session_key); // one copy per link, in the identity's allocation
  id->policy_kind = aliyun_kind;
  keep_login(*id, li);
  id->max_qos = 1;
  id->check_delivery = true;
  id->max_subscriptions = opts_.max_subscriptions;
  id->max_filters_per_subscribe = opts_.max_filters_per_subscribe;
  if (li.kind == auth::client_kind::device) {
    auto perms = dir_.permissions(li.product_key);
    if (!perms)
      return connect_refusal{mqtt::connack_code::not_authorized, "product removed"};
    id->permissions = auth::client_permissions::device(std::move(perms), id->device().device_name);
    if (li.ss)
      id->rare().implicit_subscriptions = auth::ss_filters(li.product_key, li.device_name);
  } else {
    std::vector<std::shared_ptr<const auth::product_permissions>> products;
    for (const auto& pk : li.app_products)
      if (auto p = dir_.permissions(pk))
        products.push_back(std::move(p));
    id->permissions = auth::client_permissions::app(std::move(products));
  }
  return std::shared_ptr<const client_identity>(std::move(id));
}

connect_decision device_policy::accept_registration(const auth::login_identity& li) {
  auto id = make_identity(li.session_key);
  id->policy_kind = aliyun_kind;
  id->max_qos = 1;
  id->check_delivery = true; // permissions deny everything: nothing is delivered
  auto& bye = id->rare().reply.emplace();
  bye.close_after = opts_.registration_linger;
  boost::json::object answer{{"productKey", li.product_key}, {"deviceName", li.device_name}};
  if (li.kind == auth::client_kind::register_device) {
    answer["deviceSecret"] = li.registration_secret;
    bye.greeting.emplace_back("/ext/register", boost::json::serialize(answer));
  } else {
    // regnwl: the device may not exist yet; it gets a token for its connwl logins. Rare, so
    // the store write happens here, on the worker, instead of going through the writer.
    auth::device_record existing;
    if (dir_.find_device(li.product_key, li.device_name, existing) != auth::lookup_status::found) {
      auto made = dir_.create_device(li.product_key, store::new_device{li.device_name, {}});
      if (!made && made.error() != store::errc::already_exists)
        return connect_refusal{mqtt::connack_code::server_unavailable, made.error().message()};
    }
    const auto token = auth::generate_device_token();
    if (auto ok = dir_.set_device_token(li.product_key, li.device_name, token); !ok)
      return connect_refusal{mqtt::connack_code::server_unavailable, ok.error().message()};
    answer["clientId"] =
        li.client_id.empty() ? li.product_key + "." + li.device_name : li.client_id;
    answer["deviceToken"] = token;
    bye.greeting.emplace_back("/ext/regnwl", boost::json::serialize(answer));
  }
  spdlog::info("registration answered product={} device={} kind={}", li.product_key, li.device_name,
               auth::to_string(li.kind));
  keep_login(*id, li);
  return std::shared_ptr<const client_identity>(std::move(id));
}

std::uint8_t device_policy::authorize_subscribe(const client_identity& who, std::string_view filter,
                                                std::uint8_t requested) {
  const auto* a = as_aliyun(who);
  if (a == nullptr)
    return generic_.authorize_subscribe(who, filter, requested);
  if (a->permissions.can_subscribe(filter) ||
      (a->is_device() && sub_may(a->device(), filter, sub_use::subscribe)))
    return requested;
  return mqtt::suback_failure;
}

publish_verdict device_policy::authorize_publish(const client_identity& who, std::string_view topic,
                                                 std::uint8_t qos) {
  const auto* a = as_aliyun(who);
  if (a == nullptr)
    return generic_.authorize_publish(who, topic, qos);
  if (a->permissions.can_publish(topic) ||
      (a->is_device() && sub_may(a->device(), topic, sub_use::publish)))
    return publish_verdict::allow;
  return publish_verdict::drop;
}

std::string device_policy::budget_of(std::string_view key) {
  // Session keys (auth/login.cpp): "d|pk/dn" and "r|pk/dn" have one session each; an app's
  // are "a|appKey|clientId", all counted against its appKey; the rest are generic clients.
  if (key.starts_with("d|") || key.starts_with("r|"))
    return {};
  if (key.starts_with("a|"))
    return std::string(key.substr(0, key.find('|', 2)));
  return generic_.budget_of(key);
}

std::size_t device_policy::budget_limit(std::string_view budget) {
  return budget.starts_with("a|") ? opts_.max_app_sessions : generic_.budget_limit(budget);
}

std::size_t device_policy::subscription_bound(const client_identity& who) {
  const auto li = device_login(who);
  if (!li || who.max_subscriptions == 0)
    return who.max_subscriptions;
  // Only a gateway has sub-devices online through it; a lookup under a shared lock.
  const auto subs =
      std::min(dir_.subs_via_count(li->product_key, li->device_name), store::max_sub_devices);
  return who.max_subscriptions + subs * opts_.subscriptions_per_sub_device;
}

bool device_policy::may_retain(const client_identity& who, std::string_view topic) {
  const auto* a = as_aliyun(who);
  if (a == nullptr)
    return generic_.may_retain(who, topic);
  // The platform keeps no retained messages; ours are for custom topics only, never for the
  // platform's own (thing, status, shadow, OTA, NTP ...), whose retained copy a later
  // subscriber would take for a fresh message.
  for (std::string_view platform : {"/sys/", "/ext/", "/as/", "/shadow/", "/ota/", "/broadcast/"})
    if (topic.starts_with(platform))
      return false;
  return true;
}

bool device_policy::may_receive(const client_identity& who, const message& m, bool own) {
  const auto* a = as_aliyun(who);
  if (a == nullptr)
    return generic_.may_receive(who, m, own);
  // A device's reply to a service call would come back to it through thing/service/+: what a
  // device publishes on a topic ending in "_reply" is not delivered back to it.
  if (own && a->is_device() && m.topic.ends_with("_reply"))
    return false;
  return a->permissions.can_receive(m.topic) ||
         (a->is_device() && sub_may(a->device(), m.topic, sub_use::receive));
}

void device_policy::on_online(const client_identity& who, const connection_facts& c) {
  const auto* a = as_aliyun(who);
  if (a == nullptr || !a->is_device())
    return;
  const auto li = a->device();
  const auto now = store::now();
  std::string ip = c.transport.remote_address.host();
  const auto before = gateway_online(li.product_key, li.device_name);
  // Not copied: the record is the identity's, the key ("d|pk/dn" without "d|"), client id and
  // address live with the connection until its on_offline, which marks it offline first.
  a->online = online_record{std::string_view(who.session_key).substr(2),
                            c.serial,
                            &c.client_id,
                            &c.transport.remote_address,
                            now,
                            c.transport.kind,
                            a->rrpc_ext};
  dir_.mark_online(a->online);
  dir_.mark_activated(li.product_key, li.device_name);
  if (before) // it was logged in through a gateway: its own link wins
    revoke({std::string(li.product_key), std::string(li.device_name)}, before->product_key,
           before->device_name);
  enqueue({std::string(li.product_key), std::string(li.device_name), true, now, ip});
  publish_status(li.product_key, li.device_name, a->iot_id(), true, ip);
}

void device_policy::on_offline(const client_identity& who, std::uint64_t serial, close_reason r) {
  const auto* a = as_aliyun(who);
  if (a == nullptr || !a->is_device())
    return;
  const auto li = a->device();
  dir_.record_close(li.product_key, li.device_name, to_string(r)); // every close, takeovers too
  // A takeover closes the old link after the new one went online: that is no status change.
  if (!dir_.mark_offline(li.product_key, li.device_name, serial))
    return;
  // Nor is a login on another cluster node: that node said online (before or after this close,
  // whichever came first on the wire); an offline from here would be the last word, and wrong.
  const bool moved = r == close_reason::taken_over_elsewhere;
  spdlog::debug("device {}/{} offline ({})", li.product_key, li.device_name, to_string(r));
  if (!moved) {
    enqueue({std::string(li.product_key), std::string(li.device_name), false, store::now(), {}});
    publish_status(li.product_key, li.device_name, a->iot_id(), false, {});
  }
  // Its sub-devices were online through this link only.
  std::vector<store::device_ref> gone;
  for (auto& sub : dir_.subs_via(li.product_key, li.device_name))
    if (sub_offline_only(sub, li.product_key, li.device_name))
      gone.push_back(std::move(sub));
  if (!gone.empty())
    revoke(std::move(gone), li.product_key, li.device_name);
}

bool device_policy::lost_elsewhere(std::string_view pk, std::string_view dn) {
  if (dir_.online(pk, dn))
    return false; // it logged in here again
  auth::device_record rec;
  if (dir_.find_device(pk, dn, rec) != auth::lookup_status::found)
    return false; // deleted meanwhile
  enqueue({std::string(pk), std::string(dn), false, store::now(), {}});
  publish_status(pk, dn, rec.iot_id, false, {});
  return true;
}

bool device_policy::sub_online(const store::device_ref& sub, std::string_view iot_id,
                               std::string_view gpk, std::string_view gdn,
                               std::string_view client_id) {
  const auto gateway = dir_.online(gpk, gdn);
  if (!gateway)
    return false;
  const auto before = gateway_online(sub.product_key, sub.device_name);
  const auto now = store::now();
  online_info info{gateway->serial,
                   std::string(client_id),
                   gateway->ip,
                   gateway->transport,
                   now,
                   false,
                   store::device_ref{std::string(gpk), std::string(gdn)}};
  dir_.mark_online(sub.product_key, sub.device_name, std::move(info));
  dir_.mark_activated(sub.product_key, sub.device_name);
  if (before && (before->product_key != gpk || before->device_name != gdn))
    revoke(sub, before->product_key, before->device_name); // the newer login wins
  // The gateway may have gone offline meanwhile: then so does the sub-device, at once.
  if (!dir_.online(gpk, gdn)) {
    dir_.mark_offline(sub.product_key, sub.device_name, gateway->serial);
    return false;
  }
  if (sub_observer_)
    sub_observer_(sub, gateway->serial, true);
  std::string ip(broker::host_of(gateway->ip));
  enqueue({sub.product_key, sub.device_name, true, now, ip});
  publish_status(sub.product_key, sub.device_name, iot_id, true, ip);
  return true;
}

bool device_policy::sub_offline(const store::device_ref& sub, std::string_view gpk,
                                std::string_view gdn) {
  if (!sub_offline_only(sub, gpk, gdn))
    return false;
  revoke(sub, gpk, gdn);
  return true;
}

void device_policy::subs_offline(const std::vector<store::device_ref>& subs, std::string_view gpk,
                                 std::string_view gdn) {
  std::vector<store::device_ref> gone;
  for (const auto& sub : subs)
    if (sub_offline_only(sub, gpk, gdn))
      gone.push_back(sub);
  if (!gone.empty())
    revoke(std::move(gone), gpk, gdn); // one pass over the gateway's filters, not one each
}

bool device_policy::sub_offline_only(const store::device_ref& sub, std::string_view gpk,
                                     std::string_view gdn) {
  const auto now_online = dir_.online(sub.product_key, sub.device_name);
  if (!now_online || !now_online->via || now_online->via->product_key != gpk ||
      now_online->via->device_name != gdn ||
      !dir_.mark_offline(sub.product_key, sub.device_name, now_online->serial))
    return false;
  if (sub_observer_)
    sub_observer_(sub, now_online->serial, false);
  enqueue({sub.product_key, sub.device_name, false, store::now(), {}});
  auth::device_record rec;
  std::string iot_id;
  if (dir_.find_device(sub.product_key, sub.device_name, rec) == auth::lookup_status::found)
    iot_id = rec.iot_id;
  publish_status(sub.product_key, sub.device_name, iot_id, false, {});
  return true;
}

bool device_policy::end_sub_session(const store::device_ref& sub, std::string_view gpk,
                                    std::string_view gdn) {
  const auto gateway = gateway_online(sub.product_key, sub.device_name);
  if (!gateway || (gateway->product_key == gpk && gateway->device_name == gdn))
    return false;
  return sub_offline(sub, gateway->product_key, gateway->device_name);
}

std::optional<store::device_ref> device_policy::gateway_online(std::string_view pk,
                                                               std::string_view dn) const {
  const auto now_online = dir_.online(pk, dn);
  return now_online ? now_online->via : std::nullopt;
}

std::optional<device_policy::named> device_policy::device_named(std::string_view topic) noexcept {
  // The levels that name a device: /sys/{pk}/{dn}/..., /{pk}/{dn}/... (custom topics),
  // /shadow/update|get/{pk}/{dn}, /ota/device/{x}/{pk}/{dn}, /ext/ntp|error/{pk}/{dn}/...
  std::array<std::string_view, 5> levels{}; // no allocation: this is on the per-message path
  std::size_t n = 0;
  for (std::size_t at = 1; at <= topic.size() && n < levels.size();) {
    const auto end = std::min(topic.find('/', at), topic.size());
    levels[n++] = topic.substr(at, end - at);
    at = end + 1;
  }
  if (topic.empty() || topic[0] != '/' || n < 2)
    return std::nullopt;
  std::size_t first = 0;
  if (levels[0] == "sys" || levels[0] == "shadow" || levels[0] == "ext")
    first = levels[0] == "sys" ? 1 : 2;
  else if (levels[0] == "ota")
    first = 3;
  if (n < first + 2)
    return std::nullopt;
  return named{levels[first], levels[first + 1]};
}

bool device_policy::sub_may(const device_login_ref& li, std::string_view topic, sub_use use) const {
  return sub_may(li.product_key, li.device_name, topic, use);
}

bool device_policy::sub_may(std::string_view gpk, std::string_view gdn, std::string_view topic,
                            sub_use use) const {
  const auto who = device_named(topic);
  if (!who)
    return false;
  const auto [pk, dn] = *who;
  if ((pk == gpk && dn == gdn) || !dir_.online_via(pk, dn, gpk, gdn, use != sub_use::receive))
    return false;
  const auto perms = dir_.permissions(pk);
  if (!perms)
    return false;
  return use == sub_use::publish ? perms->device_can_publish(dn, topic)
                                 : perms->device_can_subscribe(dn, topic);
}

void device_policy::revoke(const store::device_ref& sub, std::string_view gpk,
                           std::string_view gdn) {
  revoke(std::vector<store::device_ref>{sub}, gpk, gdn);
}

void device_policy::revoke(std::vector<store::device_ref> subs, std::string_view gpk,
                           std::string_view gdn) {
  if (broker_ == nullptr)
    return;
  std::unordered_set<std::string> names;
  for (const auto& r : subs)
    names.insert(r.product_key + "/" + r.device_name);
  // Decided on the gateway session's worker, when the drop runs, by the SUBSCRIBE check itself:
  // a filter naming one of the sub-devices goes unless the gateway may subscribe it now (one
  // logged in through it again meanwhile keeps it).
  broker_->drop_filters(
      auth::device_session_key(gpk, gdn),
      [this, names = std::move(names), gpk = std::string(gpk), gdn = std::string(gdn),
       key = std::string()](const client_identity* who, std::string_view filter) mutable {
        const auto n = device_named(filter);
        if (!n)
          return false;
        key.assign(n->product_key).append("/").append(n->device_name);
        if (!names.contains(key))
          return false;
        if (who != nullptr)
          return authorize_subscribe(*who, filter, 1) == mqtt::suback_failure;
        return !sub_may(gpk, gdn, filter, sub_use::subscribe); // a session restored at start
      });
}

void device_policy::publish_status(std::string_view pk, std::string_view dn,
                                   std::string_view iot_id, bool online, const std::string& ip) {
  if (broker_ == nullptr)
    return;
  const auto now = store::now();
  // The cloud's status message: local times as "2018-08-31 15:32:28.205" (here UTC), the UTC
  // ones as ISO 8601; lastTime is when this status change happened.
  boost::json::object o{{"status", online ? "online" : "offline"},
                        {"iotId", iot_id},
                        {"productKey", pk},
                        {"deviceName", dn},
                        {"time", format_time(now)},
                        {"utcTime", format_utc(now)},
                        {"lastTime", format_time(now)},
                        {"utcLastTime", format_utc(now)},
                        {"clientIp", ip}};
  auto topic = fmt::format("/as/mqtt/status/{}/{}", pk, dn);
  broker_->publish(
      make_message(topic, boost::json::serialize(o), 1, false, broker_->next_message_id()));
}

// --- the store writer ---

void device_policy::enqueue(status_write w) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(w));
  }
  cv_.notify_one();
}

void device_policy::writer_loop() {
  // What queued while the last transaction ran goes in the next one (up to max_status_batch):
  // a connect storm of N devices costs a few commits, not N.
  std::vector<status_write> batch;
  std::vector<store::status_change> changes;
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty())
      return; // stop_ and nothing left
    const auto n = std::min(queue_.size(), max_status_batch);
    batch.assign(std::make_move_iterator(queue_.begin()),
                 std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(n)));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    busy_ = true;
    lock.unlock();
    changes.clear();
    for (const auto& w : batch)
      changes.push_back({w.pk, w.dn, w.online, w.at, w.ip});
    if (auto r = dir_.store().record_status(changes); !r)
      spdlog::warn("{} device status changes not stored (first {}/{}): {}", batch.size(),
                   batch.front().pk, batch.front().dn, r.error().message());
    lock.lock();
    busy_ = false;
    if (queue_.empty())
      idle_cv_.notify_all();
  }
}

std::size_t device_policy::pending_writes() const {
  std::lock_guard lock(mu_);
  return queue_.size() + (busy_ ? 1 : 0);
}

void device_policy::flush() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [&] { return queue_.empty() && !busy_; });
}

} // namespace thingport::platform
