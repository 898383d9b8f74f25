#include "cluster/subject.hpp"

namespace thingport::cluster {

namespace {

bool plain(unsigned char c) noexcept {
  return c > 0x20 && c < 0x7f && c != '.' && c != '*' && c != '>' && c != '%';
}

void append_level(std::string& out, std::string_view level) {
  bool ok = !level.empty();
  for (const char c : level)
    ok = ok && plain(static_cast<unsigned char>(c));
  if (ok) {
    out += level;
    return;
  }
  static constexpr char hex[] = "0123456789ABCDEF";
  out += '%';
  for (const char ch : level) {
    const auto c = static_cast<unsigned char>(ch);
    if (plain(c)) {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

// Calls f(level) for each '/'-separated level of `text` (an empty text is one empty level).
template <class F> void for_each_level(std::string_view text, F&& f) {
  std::size_t start = 0;
  for (;;) {
    const auto slash = text.find('/', start);
    if (slash == std::string_view::npos) {
      f(text.substr(start));
      return;
    }
    f(text.substr(start, slash - start));
    start = slash + 1;
  }
}

} // namespace

std::optional<std::string> subject_of_topic(std::string_view topic, bool retained) {
  std::string out(retained ? retained_prefix : message_prefix);
  out.reserve(message_prefix.size() + topic.size() + 8);
  bool first = true;
  for_each_level(topic, [&](std::string_view level) {
    if (!first)
      out += '.';
    first = false;
    append_level(out, level);
  });
  if (out.size() > max_subject)
    return std::nullopt;
  return out;
}

std::optional<std::string> topic_of_subject(std::string_view subject) {
  if (subject.starts_with(message_prefix))
    subject.remove_prefix(message_prefix.size());
  else if (subject.starts_with(retained_prefix))
    subject.remove_prefix(retained_prefix.size());
  else
    return std::nullopt;
  if (subject.empty())
    return std::nullopt;
  std::string topic;
  topic.reserve(subject.size());
  std::size_t start = 0;
  for (;;) {
    const auto dot = subject.find('.', start);
    const auto token =
        subject.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (token.empty())
      return std::nullopt;
    if (token.front() != '%') {
      topic += token;
    } else {
      for (std::size_t i = 1; i < token.size(); ++i) {
        if (token[i] != '%') {
          topic += token[i];
          continue;
        }
        if (i + 2 >= token.size())
          return std::nullopt;
        const int hi = hex_value(token[i + 1]);
        const int lo = hex_value(token[i + 2]);
        if (hi < 0 || lo < 0)
          return std::nullopt;
        topic += static_cast<char>(hi * 16 + lo);
        i += 2;
      }
    }
    if (dot == std::string_view::npos)
      return topic;
    topic += '/';
    start = dot + 1;
  }
}

std::vector<std::string> subjects_of_filter(std::string_view filter) {
  std::string out(message_prefix);
  std::string parent; // the subject of the filter without its trailing "/#"
  bool first = true;
  for_each_level(filter, [&](std::string_view level) {
    if (level == "#") {
      if (!first)
        parent = out;
      out += first ? ">" : ".>";
      first = false;
      return;
    }
    if (!first)
      out += '.';
    first = false;
    if (level == "+")
      out += '*';
    else
      append_level(out, level);
  });
  std::vector<std::string> subjects;
  if (out.size() > max_subject)
    return subjects;
  subjects.push_back(std::move(out));
  if (!parent.empty())
    subjects.push_back(std::move(parent));
  return subjects;
}

} // namespace thingport::cluster
