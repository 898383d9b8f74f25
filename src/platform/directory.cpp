#include "platform/directory.hpp"

#include "auth/identity.hpp"

#include <algorithm>
#include <mutex>
#include <stdexcept>

namespace thingport::platform {

struct directory::product_entry {
  auth::product_record record;
  std::vector<auth::topic_class> classes;
  std::shared_ptr<const auth::product_permissions> permissions;
  string_map<auth::device_record> devices;
};

namespace {

std::string online_key(std::string_view pk, std::string_view dn) {
  std::string k;
  k.reserve(pk.size() + dn.size() + 1);
  k.append(pk).append("/").append(dn);
  return k;
}

auth::device_record record_of(const store::device& d) {
  return auth::device_record{
      d.device_secret, d.enabled, d.activated(), d.device_token,
      auth::iot_id(d.product_key, d.device_name, d.created.time_since_epoch().count())};
}

auth::app_record record_of(const store::application& a) {
  return auth::app_record{a.app_secret, a.enabled, a.products};
}

} // namespace

directory::directory(store::identity_store& s) : store_(s) {}

void directory::rebuild_permissions(std::string_view pk, product_entry& p) {
  p.permissions = std::make_shared<const auth::product_permissions>(std::string(pk), p.classes);
}

void directory::load() {
  struct sink final : store::identity_sink {
    directory& d;
    explicit sink(directory& dir) : d(dir) {}
    void on_product(const store::product& p, const std::optional<std::string>&) override {
      auto e = std::make_unique<product_entry>();
      e->record = auth::product_record{p.product_secret, p.dynamic_registration};
      d.products_[p.product_key] = std::move(e);
    }
    void on_topic_class(const store::topic_class& tc) override {
      auto it = d.products_.find(tc.product_key);
      if (it != d.products_.end())
        it->second->classes.push_back({tc.topic, tc.access});
    }
    void on_device(const store::device& dev) override {
      auto it = d.products_.find(dev.product_key);
      if (it == d.products_.end())
        return;
      if (it->second->devices.insert_or_assign(dev.device_name, record_of(dev)).second)
        ++d.devices_;
    }
    void on_application(const store::application& a) override { d.apps_[a.app_key] = record_of(a); }
  };
  std::unique_lock lock(mu_);
  products_.clear();
  apps_.clear();
  devices_ = 0;
  sink s(*this);
  if (auto ec = store_.load_all(s))
    throw std::runtime_error("loading devices from the store: " + ec.message());
  for (auto& [pk, e] : products_)
    rebuild_permissions(pk, *e);
}

// --- mutations ---

store::result<store::product> directory::create_product(const store::new_product& spec) {
  auto r = store_.create_product(spec);
  if (!r)
    return r;
  auto e = std::make_unique<product_entry>();
  e->record = auth::product_record{r->product_secret, r->dynamic_registration};
  e->permissions = std::make_shared<const auth::product_permissions>(r->product_key);
  std::unique_lock lock(mu_);
  products_[r->product_key] = std::move(e);
  changed("product", r->product_key);
  return r;
}

store::result<void> directory::add_topic_class(const store::topic_class& tc) {
  auto r = store_.add_topic_class(tc);
  if (!r)
    return r;
  std::unique_lock lock(mu_);
  auto it = products_.find(tc.product_key);
  if (it != products_.end()) {
    it->second->classes.push_back({tc.topic, tc.access});
    rebuild_permissions(it->first, *it->second);
  }
  changed("product", tc.product_key);
  return r;
}

store::result<store::device> directory::create_device(std::string_view pk,
                                                      const store::new_device& spec) {
  auto r = store_.create_device(pk, spec);
  if (!r)
    return r;
  std::unique_lock lock(mu_);
  auto it = products_.find(pk);
  if (it != products_.end() &&
      it->second->devices.insert_or_assign(r->device_name, record_of(*r)).second)
    ++devices_;
  changed("device", pk, r->device_name);
  return r;
}

store::result<std::vector<store::device>>
directory::create_devices(std::string_view pk, std::span<const store::new_device> specs) {
  auto r = store_.create_devices(pk, specs);
  if (!r)
    return r;
  std::unique_lock lock(mu_);
  auto it = products_.find(pk);
  if (it != products_.end()) {
    it->second->devices.reserve(it->second->devices.size() + r->size());
    for (const auto& d : *r)
      if (it->second->devices.insert_or_assign(d.device_name, record_of(d)).second)
        ++devices_;
  }
  changed("product", pk);
  return r;
}

store::result<void> directory::set_device_enabled(std::string_view pk, std::string_view dn,
                                                  bool enabled) {
  auto r = store_.set_device_enabled(pk, dn, enabled);
  if (!r)
    return r;
  std::unique_lock lock(mu_);
  if (auto it = products_.find(pk); it != products_.end()) {
    if (auto d = it->second->devices.find(dn); d != it->second->devices.end())
      d->second.enabled = enabled;
  }
  changed("device", pk, dn);
  return r;
}

store::result<void> directory::delete_device(std::string_view pk, std::string_view dn) {
  auto r = store_.delete_device(pk, dn);
  if (!r)
    return r;
  std::unique_lock lock(mu_);
  if (auto it = products_.find(pk); it != products_.end()) {
    if (auto d = it->second->devices.find(dn); d != it->second->devices.end()) {
      it->second->devices.erase(d);
      --devices_;
    }
  }
  last_close_.erase(online_key(pk, dn));
  changed("device", pk, dn);
  return r;
}

store::result<void> directory::set_device_token(std::string_view pk, std::string_view dn,
                                                std::optional<std::string_view> token) {
  auto r = store_.set_device_token(pk, dn, token);
  if (!r)
    return r;
  std::unique_lock lock(mu_);
  if (auto it = products_.find(pk); it != products_.end()) {
    if (auto d = it->second->devices.find(dn); d != it->second->devices.end()) {
      if (token)
        d->second.device_token = std::string(*token);
      else
        d->second.device_token.reset();
    }
  }
  changed("device", pk, dn);
  return r;
}

store::result<store::application> directory::create_app(const store::new_application& spec) {
  auto r = store_.create_app(spec);
  if (!r)
    return r;
  std::unique_lock lock(mu_);
  apps_[r->app_key] = record_of(*r);
  changed("app", r->app_key);
  return r;
}

store::result<void> directory::set_app_enabled(std::string_view app_key, bool enabled) {
  auto r = store_.set_app_enabled(app_key, enabled);
  if (!r)
    return r;
  std::unique_lock lock(mu_);
  if (auto it = apps_.find(app_key); it != apps_.end())
    it->second.enabled = enabled;
  changed("app", app_key);
  return r;
}

bool directory::refresh(std::string_view kind, std::string_view a, std::string_view b) {
  if (kind == "device") {
    auto d = store_.get_device(a, b);
    if (!d && d.error() != store::errc::not_found)
      return true; // the store failed: keep what we know
    std::unique_lock lock(mu_);
    auto it = products_.find(a);
    if (it == products_.end()) {
      lock.unlock();
      if (d)
        load(); // a product this node has not seen yet
      return d && d->enabled;
    }
    auto& devices = it->second->devices;
    if (!d) {
      if (auto gone = devices.find(b); gone != devices.end()) {
        devices.erase(gone);
        --devices_;
      }
      return false;
    }
    if (devices.insert_or_assign(d->device_name, record_of(*d)).second)
      ++devices_;
    return d->enabled;
  }
  if (kind == "app") {
    auto r = store_.get_app(a);
    if (!r && r.error() != store::errc::not_found)
      return true;
    std::unique_lock lock(mu_);
    if (r)
      apps_[r->app_key] = record_of(*r);
    else if (auto gone = apps_.find(a); gone != apps_.end())
      apps_.erase(gone);
    return true;
  }
  if (kind == "product")
    load(); // rare (a product, a topic class, a batch of devices): read everything again
  return true;
}

void directory::mark_activated(std::string_view pk, std::string_view dn) {
  std::unique_lock lock(mu_);
  if (auto it = products_.find(pk); it != products_.end()) {
    if (auto d = it->second->devices.find(dn); d != it->second->devices.end())
      d->second.activated = true;
  }
}

// --- lookups ---

auth::lookup_status directory::find_product(std::string_view pk, auth::product_record& out) const {
  std::shared_lock lock(mu_);
  auto it = products_.find(pk);
  if (it == products_.end())
    return auth::lookup_status::not_found;
  out = it->second->record;
  return auth::lookup_status::found;
}

auth::lookup_status directory::find_device(std::string_view pk, std::string_view dn,
                                           auth::device_record& out) const {
  std::shared_lock lock(mu_);
  auto it = products_.find(pk);
  if (it == products_.end())
    return auth::lookup_status::not_found;
  auto d = it->second->devices.find(dn);
  if (d == it->second->devices.end())
    return auth::lookup_status::not_found;
  out = d->second;
  return auth::lookup_status::found;
}

auth::lookup_status directory::find_app(std::string_view app_key, auth::app_record& out) const {
  std::shared_lock lock(mu_);
  auto it = apps_.find(app_key);
  if (it == apps_.end())
    return auth::lookup_status::not_found;
  out = it->second;
  return auth::lookup_status::found;
}

std::shared_ptr<const auth::product_permissions> directory::permissions(std::string_view pk) const {
  std::shared_lock lock(mu_);
  auto it = products_.find(pk);
  return it == products_.end() ? nullptr : it->second->permissions;
}

// --- online ---

namespace {

template <class Map>
void drop_via(Map& via, const store::device_ref& gateway, std::string_view pk,
              std::string_view dn) {
  auto it = via.find(online_key(gateway.product_key, gateway.device_name));
  if (it == via.end())
    return;
  std::erase_if(it->second, [&](const store::device_ref& s) {
    return s.product_key == pk && s.device_name == dn;
  });
  if (it->second.empty())
    via.erase(it);
}

} // namespace

// Not copyable: the record points into its own strings. Copies the client id (a compact_string
// allocates: not noexcept).
struct directory::owned_link : online_record {
  owned_link(std::string k, std::string_view id, std::string addr,
             std::optional<store::device_ref> v)
      : key_text(std::move(k)), client_id_text(id), ip_text(std::move(addr)), via(std::move(v)) {
    set_key(key_text);
    client_id = &client_id_text;
    owned = true;
  }
  owned_link(const owned_link&) = delete;
  owned_link& operator=(const owned_link&) = delete;
  std::string key_text;
  broker::compact_string client_id_text;
  std::string ip_text;
  std::optional<store::device_ref> via;
};

// Here, where owned_link is whole. A direct link's record is not read: a test may drop its
// client without going offline.
directory::~directory() = default;

online_info directory::info_of(const online_record& r) {
  const auto* v = via_of(r);
  return online_info{r.serial,
                     std::string(r.client_id->view()),
                     r.owned ? static_cast<const owned_link&>(r).ip_text
                             : (r.ip != nullptr ? r.ip->to_string() : std::string("?")),
                     r.transport,
                     r.since,
                     r.ext_rrpc,
                     v != nullptr ? std::optional<store::device_ref>(*v) : std::nullopt};
}

const store::device_ref* directory::via_of(const online_record& r) noexcept {
  if (!r.owned)
    return nullptr;
  const auto& own = static_cast<const owned_link&>(r);
  return own.via ? &*own.via : nullptr;
}

void directory::erase_online(online_map::iterator it, std::string_view pk, std::string_view dn) {
  const online_record* r = *it;
  if (const auto* via = via_of(*r))
    drop_via(via_, *via, pk, dn);
  online_.erase(it);
  if (r->owned)
    owned_.erase(r);
}

void directory::mark_online(std::string_view pk, std::string_view dn, online_info info) {
  auto own = std::make_unique<owned_link>(online_key(pk, dn), info.client_id, std::move(info.ip),
                                          info.via);
  own->serial = info.serial;
  own->since = info.since;
  own->transport = info.transport;
  own->ext_rrpc = info.ext_rrpc;
  std::unique_lock lock(mu_);
  if (auto it = online_.find(own->key()); it != online_.end())
    erase_online(it, pk, dn);
  if (info.via)
    via_[online_key(info.via->product_key, info.via->device_name)].push_back(
        {std::string(pk), std::string(dn)});
  online_.insert(own.get());
  const online_record* r = own.get();
  owned_.emplace(r, std::move(own));
}

void directory::mark_online(const online_record& r) {
  const auto key = r.key();
  const auto slash = key.find('/');
  const auto pk = key.substr(0, slash), dn = key.substr(slash + 1);
  std::unique_lock lock(mu_);
  // A takeover: the old record is the old connection's; the new one is indexed from now on.
  if (auto it = online_.find(key); it != online_.end())
    erase_online(it, pk, dn);
  online_.insert(&r);
}

bool directory::mark_offline(std::string_view pk, std::string_view dn, std::uint64_t serial) {
  const auto key = online_key(pk, dn);
  std::unique_lock lock(mu_);
  auto it = online_.find(key);
  if (it == online_.end() || (*it)->serial != serial)
    return false;
  erase_online(it, pk, dn);
  return true;
}

bool directory::online_via(std::string_view pk, std::string_view dn, std::string_view gpk,
                           std::string_view gdn, bool enabled) const {
  const auto key = online_key(pk, dn);
  std::shared_lock lock(mu_);
  auto it = online_.find(key);
  const auto* via = it == online_.end() ? nullptr : via_of(**it);
  if (via == nullptr || via->product_key != gpk || via->device_name != gdn)
    return false;
  if (!enabled)
    return true;
  auto p = products_.find(pk);
  if (p == products_.end())
    return false;
  auto d = p->second->devices.find(dn);
  return d != p->second->devices.end() && d->second.enabled;
}

std::vector<store::device_ref> directory::subs_via(std::string_view gpk,
                                                   std::string_view gdn) const {
  const auto gateway = online_key(gpk, gdn);
  std::shared_lock lock(mu_);
  auto it = via_.find(gateway);
  return it == via_.end() ? std::vector<store::device_ref>{} : it->second;
}

std::size_t directory::subs_via_count(std::string_view gpk, std::string_view gdn) const {
  const auto gateway = online_key(gpk, gdn);
  std::shared_lock lock(mu_);
  auto it = via_.find(gateway);
  return it == via_.end() ? 0 : it->second.size();
}

void directory::record_close(std::string_view pk, std::string_view dn, std::string_view reason) {
  auto key = online_key(pk, dn);
  std::unique_lock lock(mu_);
  auto name = std::find(close_names_.begin(), close_names_.end(), reason);
  if (name == close_names_.end()) {
    if (close_names_.size() >= 255)
      return; // not a close_reason name: there are far fewer
    name = close_names_.insert(name, std::string(reason));
  }
  last_close_.insert_or_assign(std::move(key),
                               static_cast<std::uint8_t>(name - close_names_.begin()));
}

std::optional<std::string> directory::last_close(std::string_view pk, std::string_view dn) const {
  auto key = online_key(pk, dn);
  std::shared_lock lock(mu_);
  auto it = last_close_.find(key);
  if (it == last_close_.end())
    return std::nullopt;
  return close_names_[it->second];
}

std::optional<online_info> directory::online(std::string_view pk, std::string_view dn) const {
  auto key = online_key(pk, dn);
  std::shared_lock lock(mu_);
  auto it = online_.find(key);
  if (it == online_.end())
    return std::nullopt;
  return info_of(**it);
}

std::size_t directory::online_count() const {
  std::shared_lock lock(mu_);
  return online_.size();
}

std::size_t directory::device_count() const {
  std::shared_lock lock(mu_);
  return devices_;
}

} // namespace thingport::platform
