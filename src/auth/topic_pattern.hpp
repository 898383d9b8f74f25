// Topic permission patterns: "/{pk}/{dn}/user/+"-style templates compiled to levels, and the
// one operation permissions need: "is every topic this filter can match inside this pattern?".
// A topic name is a filter without wildcards, so the same check answers publishes.
// Checks allocate nothing and read each level once. Any thread (const).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace thingport::auth {

// Topic levels of `s`, split on '/' without allocating: "/a/b" gives "", "a", "b".
class level_reader {
public:
  explicit level_reader(std::string_view s) noexcept : rest_(s) {}
  bool done() const noexcept { return done_; }
  std::string_view next() noexcept {
    const auto slash = rest_.find('/');
    if (slash == std::string_view::npos) {
      done_ = true;
      return rest_;
    }
    const std::string_view level = rest_.substr(0, slash);
    rest_.remove_prefix(slash + 1);
    return level;
  }

private:
  std::string_view rest_;
  bool done_ = false;
};

class topic_pattern {
public:
  enum class kind : std::uint8_t { literal, product_key, device_name, plus, hash };
  struct level {
    kind k = kind::literal;
    std::string text{}; // literal only
  };

  // Compiles a template. Placeholders fill a whole level: ${productKey} ${pk} {productKey}
  // {pk} and ${deviceName} ${dn} {deviceName} {dn}. '+' and '#' are the MQTT wildcards ('#'
  // last only). nullopt for an empty template, a placeholder or wildcard inside a level, an
  // unknown ${...}, or NUL.
  static std::optional<topic_pattern> compile(std::string_view tmpl);

  // With the placeholders bound to pk and dn: does the pattern contain every topic matched by
  // `filter` (a valid filter, or a topic name)? Rules, level by level: pattern '#' contains
  // anything left (nothing included); pattern '+' contains one literal or '+' level; a literal
  // or placeholder contains only the same literal; a filter '#' is contained only by a pattern
  // '#'. So "/sys/pk/dn/thing/#" contains "/sys/pk/dn/thing/event/+/post" and itself, but not
  // "/sys/pk/+/thing/#".
  bool covers(std::string_view filter, std::string_view pk, std::string_view dn) const noexcept;

  // As covers() with the device name unbound: the first device-name level of the pattern
  // takes the filter's level (which must be a literal valid device name), later ones must
  // repeat it; a pattern without a device name covers for every device. The name taken (empty
  // when none) is stored in `*dn_out` when given. For "may some device of this product
  // subscribe to this topic?".
  bool covers_any_device(std::string_view filter, std::string_view pk,
                         std::string_view* dn_out = nullptr) const noexcept;

  const std::vector<level>& levels() const noexcept { return levels_; }
  bool has_wildcard() const noexcept;

private:
  bool match(std::string_view filter, std::string_view pk, std::string_view dn, bool any_device,
             std::string_view* dn_out) const noexcept;

  std::vector<level> levels_;
  bool has_device_name_ = false;
};

// MQTT validity without the UTF-8 part (the decoder checked it): non-empty, no NUL; topic
// names have no '+' or '#'; in filters '+' fills a level and '#' fills the last level.
bool valid_topic_name_basic(std::string_view topic) noexcept;
bool valid_topic_filter_basic(std::string_view filter) noexcept;

} // namespace thingport::auth
