// Topic names and filters (MQTT 3.1.1 §1.5.3, §4.7).
#include "mqtt/topic.hpp"

#include <cstddef>
#include <cstdint>

namespace thingport::mqtt {
namespace {

constexpr std::size_t max_string_length = 65535;

bool in(std::uint8_t b, std::uint8_t lo, std::uint8_t hi) noexcept {
  return b >= lo && b <= hi;
}

} // namespace

bool valid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
  const auto* const end = p + s.size();
  while (p != end) {
    const std::uint8_t b = *p;
    if (b < 0x80) {
      if (b == 0) // U+0000 is forbidden in MQTT strings [MQTT-1.5.3-2].
        return false;
      ++p;
      continue;
    }
    // RFC 3629 §4: the second byte's range depends on the lead byte, which rules out
    // overlongs, surrogates (U+D800..U+DFFF) and anything above U+10FFFF.
    std::size_t len = 0;
    std::uint8_t lo = 0x80;
    std::uint8_t hi = 0xBF;
    if (in(b, 0xC2, 0xDF)) {
      len = 2;
    } else if (b == 0xE0) {
      len = 3;
      lo = 0xA0;
    } else if (in(b, 0xE1, 0xEC) || in(b, 0xEE, 0xEF)) {
      len = 3;
    } else if (b == 0xED) {
      len = 3;
      hi = 0x9F;
    } else if (b == 0xF0) {
      len = 4;
      lo = 0x90;
    } else if (in(b, 0xF1, 0xF3)) {
      len = 4;
    } else if (b == 0xF4) {
      len = 4;
      hi = 0x8F;
    } else {
      return false; // 0x80..0xC1 (continuation or overlong lead), 0xF5..0xFF
    }
    if (static_cast<std::size_t>(end - p) < len || !in(p[1], lo, hi))
      return false;
    for (std::size_t i = 2; i < len; ++i)
      if (!in(p[i], 0x80, 0xBF))
        return false;
    p += len;
  }
  return true;
}

bool valid_topic_name(std::string_view topic) noexcept {
  if (topic.empty() || topic.size() > max_string_length)
    return false;
  for (const char c : topic)
    if (c == '+' || c == '#')
      return false;
  return valid_utf8(topic);
}

bool valid_topic_filter(std::string_view filter) noexcept {
  if (filter.empty() || filter.size() > max_string_length)
    return false;
  for (std::size_t i = 0; i < filter.size(); ++i) {
    const char c = filter[i];
    if (c != '+' && c != '#')
      continue;
    const bool starts_level = i == 0 || filter[i - 1] == '/';
    const bool ends_level = i + 1 == filter.size() || filter[i + 1] == '/';
    if (!starts_level || !ends_level)
      return false;                         // [MQTT-4.7.1-2], [MQTT-4.7.1-3]
    if (c == '#' && i + 1 != filter.size()) // '#' must be the last level [MQTT-4.7.1-2]
      return false;
  }
  return valid_utf8(filter);
}

bool topic_matches(std::string_view filter, std::string_view topic) noexcept {
  // [MQTT-4.7.2-1]: '$' topics are not matched by a filter starting with a wildcard.
  if (!topic.empty() && topic.front() == '$' && !filter.empty() &&
      (filter.front() == '+' || filter.front() == '#'))
    return false;

  std::size_t fpos = 0;
  std::size_t tpos = 0;
  for (;;) {
    const std::size_t fslash = filter.find('/', fpos);
    const std::size_t fend = fslash == std::string_view::npos ? filter.size() : fslash;
    const std::string_view flevel = filter.substr(fpos, fend - fpos);
    if (flevel == "#")
      return true;

    const std::size_t tslash = topic.find('/', tpos);
    const std::size_t tend = tslash == std::string_view::npos ? topic.size() : tslash;
    if (flevel != "+" && flevel != topic.substr(tpos, tend - tpos))
      return false;

    const bool filter_last = fend == filter.size();
    const bool topic_last = tend == topic.size();
    if (filter_last)
      return topic_last;
    fpos = fend + 1;
    if (topic_last) // "a/#" also matches the parent level "a" [MQTT-4.7.1-2]
      return filter.substr(fpos) == "#";
    tpos = tend + 1;
  }
}

bool filter_covers(std::string_view outer, std::string_view inner) noexcept {
  // A filter starting with a wildcard matches no '$' topic, so it cannot cover a filter whose
  // topics all start with '$'.
  if (!outer.empty() && (outer.front() == '+' || outer.front() == '#') && !inner.empty() &&
      inner.front() == '$')
    return false;
  std::size_t opos = 0;
  std::size_t ipos = 0;
  for (;;) {
    const std::size_t oslash = outer.find('/', opos);
    const std::size_t oend = oslash == std::string_view::npos ? outer.size() : oslash;
    const std::string_view olevel = outer.substr(opos, oend - opos);
    if (olevel == "#")
      return true;
    const std::size_t islash = inner.find('/', ipos);
    const std::size_t iend = islash == std::string_view::npos ? inner.size() : islash;
    const std::string_view ilevel = inner.substr(ipos, iend - ipos);
    if (ilevel == "#")
      return false; // inner reaches deeper than this level of outer allows
    if (olevel == "+" ? false : (ilevel == "+" || ilevel != olevel))
      return false;
    const bool outer_last = oend == outer.size();
    const bool inner_last = iend == inner.size();
    if (outer_last)
      return inner_last;
    opos = oend + 1;
    if (inner_last) // "a/#" covers "a"
      return outer.substr(opos) == "#";
    ipos = iend + 1;
  }
}

} // namespace thingport::mqtt
