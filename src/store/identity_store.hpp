// Device identity as the platform keeps it: products (with their thing model and custom topic
// classes), devices and applications. identity_store is the plug-in point between the control
// plane and a database: SQLite embedded (sqlite_identity_store.hpp), PostgreSQL for a cluster.
// Every backend passes the same contract suite (tests/store/).
//
// Errors: nothing here throws on bad input. Every operation returns a result carrying a
// store::errc (or a generic error) so the HTTP API can answer 400/404/409 from it. Exceptions
// are for startup only (a backend's constructor: unopenable or foreign database), for a failing
// system random generator (std::runtime_error, from auth/identity.hpp) and for whatever an
// identity_sink throws. Identities that go into topics are checked with the rules of
// auth/identity.hpp before anything is written, by every backend (validate.hpp).
//
// Threads: every member may be called from any thread, concurrently; a backend serialises as
// it needs (see its header). Calls may block on disk: they belong to the control plane (HTTP
// API, CLI, the broker's start and its status bookkeeping), never to a broker worker's CONNECT
// path, which reads the in-memory cache built from load_all().
#pragma once

#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "auth/permissions.hpp"
#include "store/result.hpp"

namespace thingport::store {

inline constexpr std::size_t max_page_limit = 1000;
inline constexpr std::size_t max_batch_devices = 50'000;
inline constexpr std::size_t max_sub_devices = 1500; // per gateway, as the cloud's limit
inline constexpr std::size_t max_app_products = 1000;
inline constexpr std::size_t max_thing_model_bytes = 1024 * 1024;
inline constexpr std::size_t max_ip_bytes = 64;

struct page {
  std::size_t offset = 0;
  std::size_t limit = 100; // 1..max_page_limit
};

// What a product's devices are (docs/http-api.md): devices that speak MQTT themselves, gateways
// that log sub-devices in over their own link, or such sub-devices. Set at creation.
enum class node_type : std::uint8_t { device, gateway, subdevice };
std::string_view to_string(node_type t) noexcept; // "device", "gateway", "subdevice"
std::optional<node_type> parse_node_type(std::string_view text) noexcept;

// One device named by its product key and name.
struct device_ref {
  std::string product_key{};
  std::string device_name{};
  friend auto operator<=>(const device_ref&, const device_ref&) = default;
};

struct product {
  std::string product_key{};
  std::string product_secret{};
  std::string name{};
  bool dynamic_registration = false;
  timestamp created{};
  node_type node = node_type::device;
  friend bool operator==(const product&, const product&) = default;
};

// An empty key or secret is generated (11 alphanumerics / 32 hex); given ones import products
// from the cloud with the triplets already burnt into devices.
struct new_product {
  std::string name{};
  bool dynamic_registration = false;
  std::string product_key{};
  std::string product_secret{};
  node_type node = node_type::device;
};

// A custom topic class: "/${productKey}/${deviceName}/user/cmd", kept as written.
struct topic_class {
  std::string product_key{};
  std::string topic{};
  auth::access access = auth::access::all; // pub, sub or all; never none
  friend bool operator==(const topic_class&, const topic_class&) = default;
};

struct device {
  std::string product_key{};
  std::string device_name{};
  std::string device_secret{};
  bool enabled = true;
  timestamp created{};
  std::optional<timestamp> first_online{};   // never connected: status UNACTIVE
  std::optional<timestamp> last_online{};    // last accepted CONNECT
  std::optional<timestamp> last_offline{};   // last close
  std::string last_ip{};                     // of the last CONNECT; empty before
  std::optional<std::string> device_token{}; // regnwl; the connwl password
  friend bool operator==(const device&, const device&) = default;

  bool activated() const noexcept { return first_online.has_value(); }
};

// An empty name or secret is generated (20 alphanumerics / 32 hex).
struct new_device {
  std::string device_name{};
  std::string device_secret{};
};

// One login or logout of a device, for record_status.
struct status_change {
  std::string_view product_key{};
  std::string_view device_name{};
  bool online = false;
  timestamp at{};
  std::string_view ip{}; // online only
};

struct application {
  std::string app_key{};
  std::string app_secret{};
  std::string name{};
  bool enabled = true;
  std::vector<std::string> products{}; // sorted, no duplicates
  timestamp created{};
  friend bool operator==(const application&, const application&) = default;
};

// An empty key or secret is generated (16 alphanumerics / 32 hex). Every product must exist;
// duplicates are dropped.
struct new_application {
  std::string name{};
  std::vector<std::string> products{};
  std::string app_key{};
  std::string app_secret{};
};

// docs/protocol.md "The cloud side". Whether a device is connected is the broker's knowledge, not
// the store's.
enum class device_status : std::uint8_t { online, offline, unactive, disable };
device_status status_of(const device& d, bool connected) noexcept;
// Its last accepted CONNECT is not older than its last close: linked somewhere (a cluster's
// node that is not this one, when this one has no link of it).
bool login_is_newest(const device& d) noexcept;
std::string_view to_string(device_status s) noexcept; // "ONLINE", "OFFLINE", ...

// Receives everything load_all() finds. Called on the caller's thread, in this order: every
// product (each with its thing model), then every topic class, then every device, then every
// application; a product always before anything that names it. The store is locked while it
// streams: a sink must not call back into the store. A sink may throw to abort; the exception
// propagates out of load_all().
class identity_sink {
public:
  virtual ~identity_sink() = default;
  virtual void on_product(const product& p, const std::optional<std::string>& thing_model) = 0;
  virtual void on_topic_class(const topic_class& tc) = 0;
  virtual void on_device(const device& d) = 0;
  virtual void on_application(const application& a) = 0;
};

class identity_store {
public:
  identity_store() = default;
  identity_store(const identity_store&) = delete;
  identity_store& operator=(const identity_store&) = delete;
  virtual ~identity_store() = default;

  // Products. list_products is ordered by product key.
  virtual result<product> create_product(const new_product& spec) = 0;
  virtual result<product> get_product(std::string_view product_key) const = 0;
  virtual result<std::vector<product>> list_products(page p) const = 0;
  // The thing model JSON, stored as given (the thing layer validates it); nullopt clears it.
  virtual result<void> set_thing_model(std::string_view product_key,
                                       std::optional<std::string_view> json) = 0;
  virtual result<std::optional<std::string>>
  get_thing_model(std::string_view product_key) const = 0;

  // Custom topic classes of a product, in the order added.
  virtual result<void> add_topic_class(const topic_class& tc) = 0;
  virtual result<std::vector<topic_class>>
  list_topic_classes(std::string_view product_key) const = 0;

  // Devices. create_devices is all or nothing: one bad or duplicate entry (also within the
  // batch) writes none; at most max_batch_devices. Results come in the order given.
  virtual result<device> create_device(std::string_view product_key, const new_device& spec) = 0;
  virtual result<std::vector<device>> create_devices(std::string_view product_key,
                                                     std::span<const new_device> specs) = 0;
  virtual result<device> get_device(std::string_view product_key,
                                    std::string_view device_name) const = 0;
  // Ordered by device name; not_found when the product does not exist.
  virtual result<std::vector<device>> list_devices(std::string_view product_key, page p) const = 0;
  virtual result<std::uint64_t> count_devices(std::string_view product_key) const = 0;
  virtual result<void> set_device_enabled(std::string_view product_key,
                                          std::string_view device_name, bool enabled) = 0;
  virtual result<void> delete_device(std::string_view product_key,
                                     std::string_view device_name) = 0;
  // A CONNECT accepted: first_online is set the first time only. `ip` is kept as given, cut
  // to max_ip_bytes.
  virtual result<void> record_online(std::string_view product_key, std::string_view device_name,
                                     timestamp at, std::string_view ip) = 0;
  virtual result<void> record_offline(std::string_view product_key, std::string_view device_name,
                                      timestamp at) = 0;
  // The changes in order, as record_online/record_offline one by one would make them (so
  // first_online stays the first), in one transaction: a storage failure applies none. A change
  // whose device does not exist (any more) or whose names are invalid is skipped; the answer is
  // how many were applied.
  virtual result<std::size_t> record_status(std::span<const status_change> changes) = 0;
  // nullopt clears the token.
  virtual result<void> set_device_token(std::string_view product_key, std::string_view device_name,
                                        std::optional<std::string_view> token) = 0;

  // Gateway topology: the sub-devices a gateway device holds; a sub-device has one gateway at
  // most. add_sub_devices is all or nothing: not_found when the gateway or a sub-device does not
  // exist, limit_reached when the gateway would hold more than max_sub_devices; a sub-device of
  // another gateway moves to this one (as the cloud does), one already here stays.
  // remove_sub_devices: not_found when one is not under this gateway, and nothing is removed.
  // Deleting a device removes its rows either way. Ordered by key.
  virtual result<void> add_sub_devices(std::string_view gateway_pk, std::string_view gateway_dn,
                                       std::span<const device_ref> subs) = 0;
  virtual result<void> remove_sub_devices(std::string_view gateway_pk, std::string_view gateway_dn,
                                          std::span<const device_ref> subs) = 0;
  virtual result<std::vector<device_ref>> sub_devices(std::string_view gateway_pk,
                                                      std::string_view gateway_dn) const = 0;
  virtual result<std::optional<device_ref>> gateway_of(std::string_view product_key,
                                                       std::string_view device_name) const = 0;

  // Applications. list_apps is ordered by app key.
  virtual result<application> create_app(const new_application& spec) = 0;
  virtual result<application> get_app(std::string_view app_key) const = 0;
  virtual result<std::vector<application>> list_apps(page p) const = 0;
  virtual result<void> set_app_enabled(std::string_view app_key, bool enabled) = 0;

  // Streams every product, topic class, device and application to `sink` (see identity_sink),
  // for the broker's cache at start. A consistent snapshot.
  virtual std::error_code load_all(identity_sink& sink) const = 0;
};

} // namespace thingport::store
