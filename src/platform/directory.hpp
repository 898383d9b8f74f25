// The broker's in-memory view of device identity: products (secrets, dynamic registration,
// topic permissions), devices (secrets, enabled, activated, token), applications, and which
// devices are online right now. Built from the identity store at start and kept in step by
// going through it for every change: each mutation writes the store first and updates the
// cache only when the store said yes, so a CONNECT reads memory and never waits on disk.
//
// Threads: every member may be called from any thread. Lookups take a shared lock; mutations
// take the store's time plus an exclusive lock for the cache update only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/lookup.hpp"
#include "auth/permissions.hpp"
#include "broker/pointer_set.hpp"
#include "platform/core.hpp"
#include "store/identity_store.hpp"

namespace thingport::platform {

// A device's live connection, as the status API shows it.
struct online_info {
  std::uint64_t serial = 0; // the connection's serial (broker-wide)
  std::string client_id;
  std::string ip; // "ip:port" as the transport saw it
  transport_kind transport = transport_kind::tcp;
  store::timestamp since{};
  bool ext_rrpc = false; // ext bit 0 at login: sync services go on /ext/rrpc/{id}/sys/...
  std::optional<store::device_ref> via{}; // a sub-device logged in through this gateway
                                          // (serial, ip and transport are the gateway's)
};

// A direct link's online record, kept by the link itself (in its identity) and indexed by the
// directory by address, not copied (memory per idle device: the index holds a pointer). The
// record, `key` ("pk/dn") and the strings `client_id` and `ip` point to belong to the connection
// and must stay where they are until mark_offline(pk, dn, serial) for this serial, or until a
// later mark_online of the device replaces the record (a takeover), whichever comes first. The
// broker keeps them: every connection that went online gets its on_offline before its client is
// gone.
struct online_record {
  online_record() = default;
  online_record(std::string_view k, std::uint64_t s, const broker::compact_string* id,
                const broker::peer_address* addr, store::timestamp at, transport_kind t,
                bool ext) noexcept
      : serial(s), client_id(id), ip(addr), since(at), transport(t), ext_rrpc(ext) {
    set_key(k);
  }
  std::string_view key() const noexcept { return {key_data_, key_size_}; } // "pk/dn"
  // pk and dn are at most 32 characters each (auth::valid_product_key, valid_device_name), so
  // the key's length fits its 16 bits with room to spare.
  void set_key(std::string_view k) noexcept {
    key_data_ = k.data();
    key_size_ = static_cast<std::uint16_t>(k.size());
  }

  std::uint64_t serial = 0;
  const broker::compact_string* client_id = nullptr;
  const broker::peer_address* ip = nullptr; // a direct link's; null in the directory's own copy
  store::timestamp since{};
  transport_kind transport = transport_kind::tcp;
  bool ext_rrpc = false;
  bool owned = false; // the directory's own copy (a record given as online_info)

private:
  // The key as a pointer and a length in the flags' padding instead of a view: 8 bytes fewer per
  // device, and the device's identity one allocator size class smaller (memory per idle device).
  std::uint16_t key_size_ = 0;
  const char* key_data_ = nullptr;
};

class directory final : public auth::device_lookup {
public:
  explicit directory(store::identity_store& s);
  ~directory() override;
  directory(const directory&) = delete;
  directory& operator=(const directory&) = delete;

  // Fills the cache from the store (load_all). Throws std::runtime_error when the store fails.
  void load();

  store::identity_store& store() noexcept { return store_; }

  // --- mutations: the store first, then the cache; results are the store's ---
  store::result<store::product> create_product(const store::new_product& spec);
  store::result<void> add_topic_class(const store::topic_class& tc);
  store::result<store::device> create_device(std::string_view pk, const store::new_device& spec);
  store::result<std::vector<store::device>> create_devices(std::string_view pk,
                                                           std::span<const store::new_device> s);
  // The caller disconnects a device it disables or deletes (broker::disconnect).
  store::result<void> set_device_enabled(std::string_view pk, std::string_view dn, bool enabled);
  store::result<void> delete_device(std::string_view pk, std::string_view dn);
  store::result<void> set_device_token(std::string_view pk, std::string_view dn,
                                       std::optional<std::string_view> token);
  store::result<store::application> create_app(const store::new_application& spec);
  store::result<void> set_app_enabled(std::string_view app_key, bool enabled);
  // A device's first accepted login marks it activated in the cache at once (the store write of
  // first_online happens later, off the CONNECT path).
  void mark_activated(std::string_view pk, std::string_view dn);

  // --- a cluster (docs/cluster.md): other nodes' caches follow this one's changes ---
  // `f(kind, a, b)` is called after each mutation the store accepted, on the mutating thread:
  // "product" (a: productKey; its topic classes and batches of devices too), "device" (a, b:
  // productKey, deviceName) or "app" (a: appKey). Set before serving; never while one runs.
  using observer =
      std::function<void(std::string_view kind, std::string_view a, std::string_view b)>;
  void set_observer(observer f) { observer_ = std::move(f); }
  // Tells the observer of a change made around the directory, e.g. "model" (a: productKey)
  // when a product's thing model is stored.
  void changed(std::string_view kind, std::string_view a, std::string_view b = {}) const {
    if (observer_)
      observer_(kind, a, b);
  }
  // Another node changed the registry: reads it again from the store. Returns, for a device,
  // whether it may still log in (false: disabled or deleted, so its link is to be closed).
  bool refresh(std::string_view kind, std::string_view a, std::string_view b);

  // --- auth::device_lookup (memory only) ---
  auth::lookup_status find_product(std::string_view pk, auth::product_record& out) const override;
  auth::lookup_status find_device(std::string_view pk, std::string_view dn,
                                  auth::device_record& out) const override;
  auth::lookup_status find_app(std::string_view app_key, auth::app_record& out) const override;

  // The product's topic permissions (defaults plus custom classes), shared by its devices'
  // connections; null for an unknown product. A new custom class makes a new object: existing
  // connections keep the one they logged in with.
  std::shared_ptr<const auth::product_permissions> permissions(std::string_view pk) const;

  // --- who is online ---
  // Records `info` as pk/dn's live connection (replacing an older one: takeover); copies it.
  void mark_online(std::string_view pk, std::string_view dn, online_info info);
  // The same for a direct link, without copies (see online_record for how long it must live).
  void mark_online(const online_record& r);
  // Forgets pk/dn's live connection if it is still `serial`; returns whether it was.
  bool mark_offline(std::string_view pk, std::string_view dn, std::uint64_t serial);
  std::optional<online_info> online(std::string_view pk, std::string_view dn) const;
  // Whether pk/dn is online as a sub-device logged in through gateway gpk/gdn (and, with
  // `enabled`, not disabled meanwhile): one lookup under one lock, on the per-message path.
  bool online_via(std::string_view pk, std::string_view dn, std::string_view gpk,
                  std::string_view gdn, bool enabled = false) const;
  // The sub-devices online through gateway gpk/gdn.
  std::vector<store::device_ref> subs_via(std::string_view gpk, std::string_view gdn) const;
  // How many: subs_via(gpk, gdn).size() without the copy.
  std::size_t subs_via_count(std::string_view gpk, std::string_view gdn) const;
  // Why pk/dn's last connection closed ("keepalive_timeout", "taken_over", ...), recorded on
  // every close of a logged-in device since the server started; nullopt before the first.
  void record_close(std::string_view pk, std::string_view dn, std::string_view reason);
  std::optional<std::string> last_close(std::string_view pk, std::string_view dn) const;
  std::size_t online_count() const;
  std::size_t device_count() const;

private:
  struct product_entry;
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  template <class V>
  using string_map = std::unordered_map<std::string, V, string_hash, std::equal_to<>>;

  // A record given as online_info (sub-devices, tests): the directory's own copy.
  struct owned_link;
  static online_info info_of(const online_record& r);
  static const store::device_ref* via_of(const online_record& r) noexcept;
  static std::string_view key_of(const online_record* r) noexcept { return r->key(); }
  // Online records by their key: a pointer each (8 bytes and a byte of metadata per slot).
  using online_map = broker::pointer_set<const online_record, std::string_view, &directory::key_of>;

  static void rebuild_permissions(std::string_view pk, product_entry& p);
  // Drops pk/dn's record (unique lock held), its gateway's list entry too.
  void erase_online(online_map::iterator it, std::string_view pk, std::string_view dn);

  store::identity_store& store_;
  observer observer_;
  mutable std::shared_mutex mu_;
  string_map<std::unique_ptr<product_entry>> products_;
  string_map<auth::app_record> apps_;
  // Key "pk/dn", a view of the connection's own (its identity's session key) or of an owned_link.
  online_map online_;
  std::unordered_map<const online_record*, std::unique_ptr<owned_link>> owned_; // those of online_
  string_map<std::vector<store::device_ref>> via_; // gateway "pk/dn" -> its online sub-devices
  // Key "pk/dn": its last close reason, an index into close_names_ (one byte, not a string:
  // an entry stays for every device that ever closed; docs/performance.md).
  string_map<std::uint8_t> last_close_;
  std::vector<std::string> close_names_; // the reasons seen, at most 255 (a close_reason name)
  std::size_t devices_ = 0;
};

} // namespace thingport::platform
