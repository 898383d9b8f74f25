#include "auth/permissions.hpp"

#include <algorithm>
#include <array>

#include "auth/identity.hpp"

namespace thingport::auth {

namespace {

struct compiled {
  topic_pattern pattern;
  access acc;
};

// Every product's classes (docs/protocol.md "Topics"). /ext/rrpc is handled apart (see the header).
const std::vector<compiled>& default_classes() {
  static const std::vector<compiled> classes = [] {
    struct spec {
      std::string_view tmpl;
      access acc;
    };
    static constexpr std::array specs{
        spec{"/{pk}/{dn}/user/update", access::pub},
        spec{"/{pk}/{dn}/user/update/error", access::pub},
        spec{"/{pk}/{dn}/user/get", access::sub},
        spec{"/{pk}/{dn}/update", access::pub}, // legacy
        spec{"/{pk}/{dn}/update/error", access::pub},
        spec{"/{pk}/{dn}/get", access::sub},
        spec{"/sys/{pk}/{dn}/thing/#", access::all},
        spec{"/sys/{pk}/{dn}/rrpc/#", access::all},
        spec{"/sys/{pk}/{dn}/broadcast/request/+", access::sub},
        spec{"/shadow/update/{pk}/{dn}", access::pub},
        spec{"/shadow/get/{pk}/{dn}", access::sub},
        spec{"/ota/device/inform/{pk}/{dn}", access::pub},
        spec{"/ota/device/progress/{pk}/{dn}", access::pub},
        spec{"/ota/device/request/{pk}/{dn}", access::all},
        spec{"/ota/device/upgrade/{pk}/{dn}", access::sub},
        spec{"/ext/ntp/{pk}/{dn}/request", access::pub},
        spec{"/ext/ntp/{pk}/{dn}/response", access::sub},
        spec{"/ext/error/{pk}/{dn}", access::sub},
        // Gateways publish combine/login... and receive combine/login_reply...
        spec{"/ext/session/{pk}/{dn}/combine/#", access::all},
        spec{"/broadcast/{pk}/#", access::sub},
    };
    std::vector<compiled> out;
    out.reserve(specs.size());
    for (const spec& s : specs) {
      out.push_back({*topic_pattern::compile(s.tmpl), s.acc});
    }
    return out;
  }();
  return classes;
}

// What an application may subscribe to for one of its products: every device's topics.
const std::vector<topic_pattern>& app_patterns() {
  static const std::vector<topic_pattern> patterns = [] {
    static constexpr std::array<std::string_view, 13> specs{
        "/{pk}/#",
        "/sys/{pk}/#",
        "/as/mqtt/status/{pk}/#",
        "/shadow/+/{pk}/+",
        "/ota/device/+/{pk}/+",
        "/ext/ntp/{pk}/#",
        "/ext/error/{pk}/+",
        "/ext/session/{pk}/#",
        "/broadcast/{pk}/#",
        "/ext/rrpc/+/{pk}/#",
        "/ext/rrpc/+//{pk}/#",
        "/ext/rrpc/+/sys/{pk}/#",
        "/ext/rrpc/+//sys/{pk}/#",
    };
    std::vector<topic_pattern> out;
    out.reserve(specs.size());
    for (std::string_view s : specs) {
      out.push_back(*topic_pattern::compile(s));
    }
    return out;
  }();
  return patterns;
}

// Alink's own topics go deeper than 7 '/' ("/sys/pk/dn/thing/event/property/batch/post" has
// 8), so the level limit applies outside /sys/ only; the byte limit applies everywhere.
bool within_device_limits(std::string_view topic) noexcept {
  return topic.size() <= max_device_topic_bytes &&
         (topic.starts_with("/sys/") ||
          static_cast<std::size_t>(std::count(topic.begin(), topic.end(), '/')) <=
              max_device_topic_slashes);
}

// "/ext/rrpc/<id>/<topic>": not_rrpc, or rrpc with the embedded topic (always starting with
// one '/'), or refused when malformed.
struct rrpc_split {
  enum class state { not_rrpc, own, refused } st = state::not_rrpc;
  std::string_view own;
};

rrpc_split split_rrpc(std::string_view s) noexcept {
  static constexpr std::string_view prefix = "/ext/rrpc/";
  if (!s.starts_with(prefix)) {
    return {};
  }
  rrpc_split r{rrpc_split::state::refused, {}};
  const std::string_view after = s.substr(prefix.size());
  const auto slash = after.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash > 64) {
    return r; // no topic, empty or oversized message id
  }
  if (after.substr(0, slash) == "#") {
    return r;
  }
  std::string_view own = after.substr(slash);
  if (own.starts_with("//")) {
    own.remove_prefix(1);
  }
  if (own.size() < 2 || !within_device_limits(own)) {
    return r;
  }
  return {rrpc_split::state::own, own};
}

// "/<pk>/..." written with the product's own key becomes "/{pk}/...".
std::string normalize(std::string_view tmpl, std::string_view pk) {
  if (!pk.empty() && tmpl.size() > pk.size() + 1 && tmpl[0] == '/' &&
      tmpl.substr(1, pk.size()) == pk && tmpl[pk.size() + 1] == '/') {
    std::string out = "/{pk}";
    out.append(tmpl.substr(pk.size() + 1));
    return out;
  }
  return std::string(tmpl);
}

} // namespace

std::optional<access> parse_access(std::string_view text) noexcept {
  if (text == "pub") {
    return access::pub;
  }
  if (text == "sub") {
    return access::sub;
  }
  if (text == "all") {
    return access::all;
  }
  return std::nullopt;
}

std::string_view to_string(access a) noexcept {
  switch (a) {
  case access::none:
    return "none";
  case access::pub:
    return "pub";
  case access::sub:
    return "sub";
  case access::all:
    return "all";
  }
  return "none";
}

std::string_view topic_class_error(std::string_view tmpl, access acc,
                                   std::string_view product_key) {
  using k = topic_pattern::kind;
  if (acc == access::none) {
    return "access must be pub, sub or all";
  }
  const auto p = topic_pattern::compile(normalize(tmpl, product_key));
  if (!p) {
    return "invalid topic template";
  }
  const auto& lv = p->levels();
  if (lv.size() < 5 || lv[0].k != k::literal || !lv[0].text.empty() || lv[1].k != k::product_key ||
      lv[2].k != k::device_name || lv[3].k != k::literal || lv[3].text != "user") {
    return "custom topics must start with /${productKey}/${deviceName}/user/";
  }
  if (lv.size() - 1 > max_device_topic_slashes) {
    return "too many levels (at most 7 '/')";
  }
  for (const auto& l : lv) {
    if (&l != &lv[0] && l.k == k::literal && l.text.empty()) {
      return "empty topic level";
    }
  }
  if (p->has_wildcard() && acc != access::sub) {
    return "wildcards are allowed only in sub classes";
  }
  return {};
}

product_permissions::product_permissions(std::string product_key,
                                         std::span<const topic_class> custom)
    : pk_(std::move(product_key)) {
  for (const topic_class& c : custom) {
    if (!topic_class_error(c.topic, c.acc, pk_).empty()) {
      ++rejected_;
      continue;
    }
    custom_.push_back({*topic_pattern::compile(normalize(c.topic, pk_)), c.acc});
  }
}

bool product_permissions::covered(std::string_view filter, std::string_view dn,
                                  access want) const noexcept {
  for (const compiled& c : default_classes()) {
    if (allows(c.acc, want) && c.pattern.covers(filter, pk_, dn)) {
      return true;
    }
  }
  for (const entry& c : custom_) {
    if (allows(c.acc, want) && c.pattern.covers(filter, pk_, dn)) {
      return true;
    }
  }
  return false;
}

bool product_permissions::covered_any(std::string_view topic, access want) const noexcept {
  for (const compiled& c : default_classes()) {
    if (allows(c.acc, want) && c.pattern.covers_any_device(topic, pk_)) {
      return true;
    }
  }
  for (const entry& c : custom_) {
    if (allows(c.acc, want) && c.pattern.covers_any_device(topic, pk_)) {
      return true;
    }
  }
  return false;
}

bool product_permissions::device_can_publish(std::string_view dn,
                                             std::string_view topic) const noexcept {
  if (!valid_device_name(dn) || !valid_topic_name_basic(topic)) {
    return false;
  }
  const rrpc_split rrpc = split_rrpc(topic);
  switch (rrpc.st) {
  case rrpc_split::state::own:
    return covered(rrpc.own, dn, access::sub); // the reply goes back on the request's topic
  case rrpc_split::state::refused:
    return false;
  case rrpc_split::state::not_rrpc:
    break;
  }
  return within_device_limits(topic) && covered(topic, dn, access::pub);
}

bool product_permissions::device_can_subscribe(std::string_view dn,
                                               std::string_view filter) const noexcept {
  if (!valid_device_name(dn) || !valid_topic_filter_basic(filter)) {
    return false;
  }
  const rrpc_split rrpc = split_rrpc(filter);
  switch (rrpc.st) {
  case rrpc_split::state::own:
    return covered(rrpc.own, dn, access::sub);
  case rrpc_split::state::refused:
    return false;
  case rrpc_split::state::not_rrpc:
    break;
  }
  return within_device_limits(filter) && covered(filter, dn, access::sub);
}

bool product_permissions::any_device_can_subscribe(std::string_view topic) const noexcept {
  if (!valid_topic_name_basic(topic)) {
    return false;
  }
  const rrpc_split rrpc = split_rrpc(topic);
  switch (rrpc.st) {
  case rrpc_split::state::own:
    return covered_any(rrpc.own, access::sub);
  case rrpc_split::state::refused:
    return false;
  case rrpc_split::state::not_rrpc:
    break;
  }
  return within_device_limits(topic) && covered_any(topic, access::sub);
}

bool product_permissions::app_can_subscribe(std::string_view filter) const noexcept {
  if (!valid_topic_filter_basic(filter)) {
    return false;
  }
  return std::any_of(app_patterns().begin(), app_patterns().end(),
                     [&](const topic_pattern& p) { return p.covers(filter, pk_, {}); });
}

std::vector<std::string> ss_filters(std::string_view product_key, std::string_view device_name) {
  static constexpr std::array<std::string_view, 29> sys_suffixes{
      // downlink requests
      "thing/service/property/set",
      "thing/service/property/get",
      "thing/service/+",
      "thing/model/down_raw",
      "rrpc/request/+",
      "thing/config/push",
      "broadcast/request/+",
      // replies to the device's own requests
      "thing/event/+/post_reply", // property/post_reply and {event}/post_reply
      "thing/event/property/batch/post_reply",
      "thing/event/property/pack/post_reply",
      "thing/property/desired/get_reply",
      "thing/property/desired/delete_reply",
      "thing/deviceinfo/update_reply",
      "thing/deviceinfo/delete_reply",
      "thing/dsltemplate/get_reply",
      "thing/config/get_reply",
      "thing/ota/firmware/get_reply",
      "thing/model/up_raw_reply",
      // gateways: topology and sub-device management
      "thing/topo/add_reply",
      "thing/topo/delete_reply",
      "thing/topo/get_reply",
      "thing/topo/change",
      "thing/topo/add/notify",
      "thing/list/found_reply",
      "thing/sub/register_reply",
      "thing/sub/unregister_reply",
      "thing/disable",
      "thing/enable",
      "thing/delete",
  };
  const std::string pk(product_key);
  const std::string dn(device_name);
  const std::string sys = "/sys/" + pk + "/" + dn + "/";
  std::vector<std::string> out;
  out.reserve(sys_suffixes.size() + 9);
  for (std::string_view s : sys_suffixes) {
    out.push_back(sys + std::string(s));
  }
  for (std::string_view s :
       {"login_reply", "logout_reply", "batch_login_reply", "batch_logout_reply"}) {
    out.push_back("/ext/session/" + pk + "/" + dn + "/combine/" + std::string(s));
  }
  out.push_back("/ota/device/upgrade/" + pk + "/" + dn);
  out.push_back("/shadow/get/" + pk + "/" + dn);
  out.push_back("/ext/ntp/" + pk + "/" + dn + "/response");
  out.push_back("/ext/error/" + pk + "/" + dn);
  return out;
}

client_permissions client_permissions::device(std::shared_ptr<const product_permissions> product,
                                              std::string_view device_name) {
  client_permissions p;
  if (product) {
    p.mode_ = mode::device;
    p.self_product_ = std::move(product);
    p.self_name_ = device_name.data();
    p.self_name_size_ =
        static_cast<std::uint16_t>(std::min<std::size_t>(device_name.size(), 0xffff));
  }
  return p;
}

client_permissions
client_permissions::app(std::vector<std::shared_ptr<const product_permissions>> products) {
  client_permissions p;
  p.mode_ = mode::app;
  std::erase(products, nullptr);
  if (!products.empty()) {
    p.more_ = std::make_unique<extra>();
    p.more_->products = std::move(products);
  }
  return p;
}

client_permissions client_permissions::anonymous() {
  client_permissions p;
  p.mode_ = mode::anonymous;
  return p;
}

void client_permissions::add_sub_device(std::shared_ptr<const product_permissions> product,
                                        std::string device_name) {
  if (!product || !valid_device_name(device_name)) {
    return;
  }
  remove_sub_device(product->product_key(), device_name);
  if (!more_) {
    more_ = std::make_unique<extra>();
  }
  std::string key = device_name;
  more_->sub_devices.emplace(std::move(key), identity{std::move(product), std::move(device_name)});
}

void client_permissions::remove_sub_device(std::string_view product_key,
                                           std::string_view device_name) {
  if (!more_) {
    return;
  }
  auto& subs = more_->sub_devices;
  auto [it, end] = subs.equal_range(device_name);
  while (it != end) {
    if (it->second.product->product_key() == product_key) {
      it = subs.erase(it);
    } else {
      ++it;
    }
  }
}

bool client_permissions::device_check(std::string_view topic, bool publish) const noexcept {
  auto check = [&](const product_permissions& p, std::string_view dn) {
    return publish ? p.device_can_publish(dn, topic) : p.device_can_subscribe(dn, topic);
  };
  if (self_product_ && check(*self_product_, {self_name_, self_name_size_})) {
    return true;
  }
  if (!more_ || more_->sub_devices.empty()) {
    return false;
  }
  // A sub-device's topics name it in one of their levels: look only at those sub-devices.
  level_reader r(topic);
  while (!r.done()) {
    auto [it, end] = more_->sub_devices.equal_range(r.next());
    for (; it != end; ++it) {
      if (check(*it->second.product, it->second.device_name)) {
        return true;
      }
    }
  }
  return false;
}

const std::vector<std::shared_ptr<const product_permissions>>&
client_permissions::products() const noexcept {
  static const std::vector<std::shared_ptr<const product_permissions>> none;
  return more_ ? more_->products : none;
}

bool client_permissions::can_publish(std::string_view topic) const noexcept {
  switch (mode_) {
  case mode::none:
    return false;
  case mode::anonymous:
    return valid_topic_name_basic(topic);
  case mode::device:
    return device_check(topic, true);
  case mode::app:
    return std::any_of(products().begin(), products().end(),
                       [&](const auto& p) { return p->any_device_can_subscribe(topic); });
  }
  return false;
}

bool client_permissions::can_subscribe(std::string_view filter) const noexcept {
  switch (mode_) {
  case mode::none:
    return false;
  case mode::anonymous:
    return valid_topic_filter_basic(filter);
  case mode::device:
    return device_check(filter, false);
  case mode::app:
    return std::any_of(products().begin(), products().end(),
                       [&](const auto& p) { return p->app_can_subscribe(filter); });
  }
  return false;
}

} // namespace thingport::auth
