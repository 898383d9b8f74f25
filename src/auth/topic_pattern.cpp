#include "auth/topic_pattern.hpp"

#include "auth/identity.hpp"

namespace thingport::auth {

namespace {

std::optional<topic_pattern::kind> placeholder(std::string_view s) noexcept {
  using k = topic_pattern::kind;
  if (s == "${productKey}" || s == "${pk}" || s == "{productKey}" || s == "{pk}") {
    return k::product_key;
  }
  if (s == "${deviceName}" || s == "${dn}" || s == "{deviceName}" || s == "{dn}") {
    return k::device_name;
  }
  return std::nullopt;
}

} // namespace

std::optional<topic_pattern> topic_pattern::compile(std::string_view tmpl) {
  if (tmpl.empty() || tmpl.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  topic_pattern p;
  level_reader r(tmpl);
  while (!r.done()) {
    const std::string_view s = r.next();
    if (!p.levels_.empty() && p.levels_.back().k == kind::hash) {
      return std::nullopt; // '#' not last
    }
    if (s == "+") {
      p.levels_.push_back({kind::plus, {}});
    } else if (s == "#") {
      p.levels_.push_back({kind::hash, {}});
    } else if (const auto ph = placeholder(s)) {
      p.levels_.push_back({*ph, {}});
      p.has_device_name_ = p.has_device_name_ || *ph == kind::device_name;
    } else if (s.find_first_of("+#{}$") != std::string_view::npos) {
      return std::nullopt; // wildcard or placeholder inside a level, or an unknown ${...}
    } else {
      p.levels_.push_back({kind::literal, std::string(s)});
    }
  }
  return p;
}

bool topic_pattern::has_wildcard() const noexcept {
  for (const level& l : levels_) {
    if (l.k == kind::plus || l.k == kind::hash) {
      return true;
    }
  }
  return false;
}

bool topic_pattern::covers(std::string_view filter, std::string_view pk,
                           std::string_view dn) const noexcept {
  return match(filter, pk, dn, false, nullptr);
}

bool topic_pattern::covers_any_device(std::string_view filter, std::string_view pk,
                                      std::string_view* dn_out) const noexcept {
  return match(filter, pk, {}, true, dn_out);
}

bool topic_pattern::match(std::string_view filter, std::string_view pk, std::string_view dn,
                          bool any_device, std::string_view* dn_out) const noexcept {
  level_reader r(filter);
  bool dn_taken = !any_device || !has_device_name_; // no name in the pattern: any device
  for (const level& l : levels_) {
    if (l.k == kind::hash) {
      if (dn_out != nullptr && dn_taken) {
        *dn_out = dn;
      }
      return dn_taken; // anything left, including nothing
    }
    if (r.done()) {
      return false;
    }
    const std::string_view f = r.next();
    if (f == "#") {
      return false;
    }
    switch (l.k) {
    case kind::plus:
      break;
    case kind::literal:
      if (f != l.text) {
        return false;
      }
      break;
    case kind::product_key:
      if (f != pk) {
        return false;
      }
      break;
    case kind::device_name:
      if (!dn_taken) {
        if (!valid_device_name(f)) {
          return false; // also refuses '+'
        }
        dn = f;
        dn_taken = true;
      } else if (f != dn) {
        return false;
      }
      break;
    case kind::hash:
      break; // handled above
    }
  }
  if (!r.done() || !dn_taken) {
    return false;
  }
  if (dn_out != nullptr) {
    *dn_out = dn;
  }
  return true;
}

bool valid_topic_name_basic(std::string_view topic) noexcept {
  return !topic.empty() &&
         topic.find_first_of(std::string_view("+#\0", 3)) == std::string_view::npos;
}

bool valid_topic_filter_basic(std::string_view filter) noexcept {
  if (filter.empty() || filter.find('\0') != std::string_view::npos) {
    return false;
  }
  level_reader r(filter);
  while (!r.done()) {
    const std::string_view l = r.next();
    if (l.size() > 1 && l.find_first_of("+#") != std::string_view::npos) {
      return false;
    }
    if (l == "#" && !r.done()) {
      return false;
    }
  }
  return true;
}

} // namespace thingport::auth
