// A deliberately naive topic matcher and random topic/filter generators for the broker tests.
// Kept here, not taken from mqtt::topic_matches, so the index is checked against an independent
// reading of MQTT 3.1.1 §4.7.
#pragma once

#include <cstddef>
#include <random>
#include <string>
#include <string_view>

namespace thingport::broker::test {

// Cuts the next level off the front of `rest`; false once there is none left.
inline bool next_level(std::string_view& rest, bool& more, std::string_view& level) {
  if (!more)
    return false;
  const std::size_t slash = rest.find('/');
  more = slash != std::string_view::npos;
  level = rest.substr(0, slash);
  rest = more ? rest.substr(slash + 1) : std::string_view();
  return true;
}

// '+' matches one level, '#' (last) the rest including none ("a/#" matches "a"), and a topic
// starting with '$' is not matched by a filter whose first level is a wildcard.
inline bool naive_match(std::string_view filter, std::string_view topic) {
  if (!topic.empty() && topic[0] == '$' && (filter[0] == '+' || filter[0] == '#'))
    return false;
  bool f_more = true;
  bool t_more = true;
  std::string_view f;
  std::string_view t;
  while (next_level(filter, f_more, f)) {
    if (f == "#")
      return true;
    if (!next_level(topic, t_more, t) || (f != "+" && f != t))
      return false;
  }
  return !t_more;
}

// Random topics and filters over a small alphabet, so that they collide and overlap often.
struct topic_gen {
  std::mt19937_64& rng;
  int alphabet = 3; // literal levels l0..l{alphabet-1}, plus the empty level
  int max_levels = 4;

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }

  std::string literal() {
    const int k = pick(alphabet + 1);
    if (k == alphabet)
      return std::string();
    // Every third one longer than a word, so names differing only past byte 8 are compared.
    return (k % 3 == 2 ? "a_level_past_eight_bytes_" : "l") + std::to_string(k);
  }

  std::string topic() {
    std::string t;
    const int n = 1 + pick(max_levels);
    for (int i = 0; i < n; ++i) {
      if (i > 0)
        t += '/';
      if (i == 0 && pick(6) == 0)
        t += pick(2) == 0 ? "$SYS" : "$l0";
      else
        t += literal();
    }
    return t;
  }

  std::string filter() {
    std::string f;
    const int n = 1 + pick(max_levels);
    for (int i = 0; i < n; ++i) {
      if (i > 0)
        f += '/';
      const int k = pick(10);
      if (i == n - 1 && k == 0)
        f += '#';
      else if (k <= 2)
        f += '+';
      else if (i == 0 && k == 3)
        f += "$SYS";
      else
        f += literal();
    }
    return f;
  }
};

} // namespace thingport::broker::test
