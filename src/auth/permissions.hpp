// Who may publish and subscribe where (docs/protocol.md "Topics", "The cloud side"). Deny by
// default.
//
// A product_permissions is built once per product (its default classes plus its custom topic
// classes) and shared, immutable, by all its devices' connections; a client_permissions is the
// per-connection view (which device, or which application). Checks do not allocate and run on
// every PUBLISH and again on delivery. All const members may be called from any thread.
//
// The rule for wildcard subscriptions by devices: a filter is granted when some class the
// device may subscribe to contains every topic the filter can match (topic_pattern::covers):
// it equals the class, or the class ends in (or has at the same level) a wildcard that is at
// least as wide. "/sys/pk/dn/thing/#" and "/sys/pk/dn/thing/event/+/post_reply" are granted;
// "/sys/pk/+/thing/#", "/pk/dn/user/#" (unless a class "/pk/dn/user/#" exists) and "#" are
// not. Devices: topics at most 128 bytes, and at most 7 '/' except under /sys/ (Alink's
// "/sys/pk/dn/thing/event/property/batch/post" has 8).
//
// Custom RRPC (/ext/rrpc/{messageId}/<topic>): a device may subscribe to
// "/ext/rrpc/+/<topic>" and publish "/ext/rrpc/<id>/<topic>" when it may subscribe to <topic>
// (its own request topic). <topic> may keep its leading '/' ("/ext/rrpc/+//pk/dn/user/get") or
// not ("/ext/rrpc/+/pk/dn/user/get", "/ext/rrpc/+/sys/pk/dn/thing/service/+"); the limits
// apply to <topic>.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/topic_pattern.hpp"

namespace thingport::auth {

enum class access : std::uint8_t { none = 0, pub = 1, sub = 2, all = 3 };

// "pub", "sub", "all" (as the HTTP API takes them).
std::optional<access> parse_access(std::string_view text) noexcept;
std::string_view to_string(access a) noexcept;

inline constexpr bool allows(access have, access want) noexcept {
  return (static_cast<unsigned>(have) & static_cast<unsigned>(want)) == static_cast<unsigned>(want);
}

// A custom topic class as stored: "/${productKey}/${deviceName}/user/cmd", access.
struct topic_class {
  std::string topic{};
  access acc = access::all;
};

inline constexpr std::size_t max_device_topic_bytes = 128;
inline constexpr std::size_t max_device_topic_slashes = 7;

// Why a custom class is refused (for the HTTP API), or empty when it is acceptable: it must
// compile, start with "/{pk}/{dn}/user/" followed by at least one level (the product's own
// key may be written literally), have at most 7 '/', and use wildcards only when acc is sub.
std::string_view topic_class_error(std::string_view tmpl, access acc,
                                   std::string_view product_key = {});

class product_permissions {
public:
  // The defaults of every product plus the acceptable classes of `custom` (the others are
  // skipped and counted in rejected()).
  explicit product_permissions(std::string product_key, std::span<const topic_class> custom = {});

  const std::string& product_key() const noexcept { return pk_; }
  std::size_t rejected() const noexcept { return rejected_; }

  bool device_can_publish(std::string_view dn, std::string_view topic) const noexcept;
  bool device_can_subscribe(std::string_view dn, std::string_view filter) const noexcept;

  // Some device of this product may subscribe to `topic` (a topic name): an application may
  // publish there (docs/protocol.md "The cloud side").
  bool any_device_can_subscribe(std::string_view topic) const noexcept;

  // `filter` stays within this product's device topics (docs/protocol.md "The cloud side").
  bool app_can_subscribe(std::string_view filter) const noexcept;

private:
  struct entry {
    topic_pattern pattern;
    access acc;
  };
  bool covered(std::string_view filter, std::string_view dn, access want) const noexcept;
  bool covered_any(std::string_view topic, access want) const noexcept;

  std::string pk_;
  std::vector<entry> custom_;
  std::size_t rejected_ = 0;
};

// The filters a device with _ss=1 is subscribed to without sending SUBSCRIBE (docs/protocol.md
// "Topics" last bullet). Each is also one the device may subscribe to. thing/service/+ also matches
// the device's own thing/service/{id}_reply, so the broker must not deliver a client's own
// publishes through these implicit subscriptions (no-local), or a reply would come back as a
// request.
std::vector<std::string> ss_filters(std::string_view product_key, std::string_view device_name);

// The per-connection permissions. Cheap to move; holds the products by shared_ptr.
class client_permissions {
public:
  // Deny everything (registration links, before login).
  client_permissions() = default;

  // Views `device_name`: the caller keeps it where it is for as long as these permissions (a
  // device's identity holds it in its session key: memory per idle device).
  static client_permissions device(std::shared_ptr<const product_permissions> product,
                                   std::string_view device_name);
  static client_permissions app(std::vector<std::shared_ptr<const product_permissions>> products);
  // Generic client with allow_anonymous: any valid topic (the broker applies deny_subscribe).
  static client_permissions anonymous();

  // Gateways: once a sub-device has logged in through this device, its topics too.
  void add_sub_device(std::shared_ptr<const product_permissions> product, std::string device_name);
  void remove_sub_device(std::string_view product_key, std::string_view device_name);
  std::size_t sub_device_count() const noexcept { return more_ ? more_->sub_devices.size() : 0; }

  bool can_publish(std::string_view topic) const noexcept;
  bool can_subscribe(std::string_view filter) const noexcept;
  // Checked again on delivery: may this client receive a message published on `topic`?
  bool can_receive(std::string_view topic) const noexcept { return can_subscribe(topic); }

private:
  enum class mode : std::uint8_t { none, device, app, anonymous };
  struct identity {
    std::shared_ptr<const product_permissions> product;
    std::string device_name;
  };
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  bool device_check(std::string_view topic, bool publish) const noexcept;

  // What a plain device's connection does not need, made on first use (memory per idle
  // device, docs/performance.md): a gateway's sub-devices, an application's products.
  struct extra {
    // Sub-devices by device name, so that a check looks only at the names found in the topic.
    std::unordered_multimap<std::string, identity, string_hash, std::equal_to<>> sub_devices;
    std::vector<std::shared_ptr<const product_permissions>> products; // app
  };
  const std::vector<std::shared_ptr<const product_permissions>>& products() const noexcept;

  mode mode_ = mode::none;
  // The device's own product and name (a view, as a pointer and a length beside mode_: 8 bytes
  // fewer per device link, memory per idle device). A name past 65,535 bytes is kept cut there:
  // it is not a valid name either way (auth::valid_device_name), so nothing it could do changes.
  std::uint16_t self_name_size_ = 0;
  std::shared_ptr<const product_permissions> self_product_;
  const char* self_name_ = nullptr;
  std::unique_ptr<extra> more_;
};

} // namespace thingport::auth
