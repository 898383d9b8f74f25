#include "thing/json.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <charconv>
#include <cmath>
#include <limits>
#include <vector>

#include "thing/code.hpp"

namespace thingport::thing {

namespace {

// Boost.JSON reads 1e999 as infinity, which JSON cannot write back: such a document is refused
// as not JSON. An explicit stack: no recursion on what a peer sent.
bool all_finite(const boost::json::value& root) {
  std::vector<const boost::json::value*> todo{&root};
  while (!todo.empty()) {
    const boost::json::value* v = todo.back();
    todo.pop_back();
    if (const auto* d = v->if_double(); d != nullptr && !std::isfinite(*d)) {
      return false;
    }
    if (const auto* obj = v->if_object()) {
      for (const auto& kv : *obj) {
        todo.push_back(&kv.value());
      }
    } else if (const auto* arr = v->if_array()) {
      for (const auto& item : *arr) {
        todo.push_back(&item);
      }
    }
  }
  return true;
}

} // namespace

result<boost::json::value> parse_json(std::string_view text, const json_limits& limits) {
  if (text.size() > limits.max_bytes) {
    return make_error_code(code::not_json);
  }
  boost::json::parse_options opt;
  opt.max_depth = limits.max_depth;
  std::error_code ec;
  boost::json::value v =
      boost::json::parse(boost::json::string_view(text.data(), text.size()), ec, {}, opt);
  if (ec || !all_finite(v)) {
    return make_error_code(code::not_json);
  }
  return v;
}

namespace {

// Numbers in their shortest round-trip form (23.6, not Boost.JSON's 2.36E1): what applications
// get back should look like what the device sent.
void write_number(std::string& out, const boost::json::value& v) {
  char buf[32];
  std::to_chars_result r{};
  if (const auto* i = v.if_int64()) {
    r = std::to_chars(buf, buf + sizeof buf, *i);
  } else if (const auto* u = v.if_uint64()) {
    r = std::to_chars(buf, buf + sizeof buf, *u);
  } else {
    const double d = v.get_double();
    if (!std::isfinite(d)) {
      out += "null"; // JSON has no infinity; parse_json() never makes one
      return;
    }
    r = std::to_chars(buf, buf + sizeof buf, d);
  }
  out.append(buf, r.ptr);
}

// open, the entries separated by commas, close.
template <typename List, typename Entry>
void write_list(std::string& out, char open, const List& list, char close, Entry&& entry) {
  out += open;
  bool first = true;
  for (const auto& e : list) {
    if (!first) {
      out += ',';
    }
    first = false;
    entry(e);
  }
  out += close;
}

// Depth is bounded by whoever built the value (parse_json's max_depth, or our own code).
void write(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
  case boost::json::kind::object:
    write_list(out, '{', v.get_object(), '}', [&](const auto& kv) {
      out += boost::json::serialize(kv.key());
      out += ':';
      write(out, kv.value());
    });
    return;
  case boost::json::kind::array:
    write_list(out, '[', v.get_array(), ']', [&](const auto& item) { write(out, item); });
    return;
  case boost::json::kind::int64:
  case boost::json::kind::uint64:
  case boost::json::kind::double_:
    write_number(out, v);
    return;
  default:
    out += boost::json::serialize(v); // string, bool, null
    return;
  }
}

} // namespace

std::string to_json(const boost::json::value& v) {
  std::string out;
  write(out, v);
  return out;
}

std::string_view clip_utf8(std::string_view s, std::size_t max_bytes) noexcept {
  if (s.size() <= max_bytes) {
    return s;
  }
  std::size_t n = max_bytes;
  // A continuation byte (10xxxxxx) at the cut means the character before it is split.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) {
    --n;
  }
  return s.substr(0, n);
}

std::optional<std::int64_t> as_int64(const boost::json::value& v) noexcept {
  if (const auto* i = v.if_int64()) {
    return *i;
  }
  if (const auto* u = v.if_uint64()) {
    if (*u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return static_cast<std::int64_t>(*u);
    }
    return std::nullopt;
  }
  if (const auto* d = v.if_double()) {
    // 2^63 is exactly representable; anything at or above it does not fit.
    constexpr double limit = 9223372036854775808.0;
    if (std::isfinite(*d) && std::trunc(*d) == *d && *d >= -limit && *d < limit) {
      return static_cast<std::int64_t>(*d);
    }
  }
  return std::nullopt;
}

std::optional<double> as_double(const boost::json::value& v) noexcept {
  if (const auto* i = v.if_int64()) {
    return static_cast<double>(*i);
  }
  if (const auto* u = v.if_uint64()) {
    return static_cast<double>(*u);
  }
  if (const auto* d = v.if_double()) {
    if (std::isfinite(*d)) {
      return *d;
    }
  }
  return std::nullopt;
}

std::optional<std::int64_t> int_of(const boost::json::value& v) noexcept {
  if (const auto* s = v.if_string()) {
    return parse_int(std::string_view(s->data(), s->size()));
  }
  return as_int64(v);
}

std::optional<double> double_of(const boost::json::value& v) noexcept {
  if (const auto* s = v.if_string()) {
    return parse_double(std::string_view(s->data(), s->size()));
  }
  return as_double(v);
}

std::optional<std::int64_t> parse_int(std::string_view s) noexcept {
  std::int64_t out = 0;
  const char* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, out);
  if (s.empty() || ec != std::errc{} || ptr != end) {
    return std::nullopt;
  }
  return out;
}

std::optional<double> parse_double(std::string_view s) noexcept {
  double out = 0;
  const char* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, out, std::chars_format::general);
  if (s.empty() || ec != std::errc{} || ptr != end || !std::isfinite(out)) {
    return std::nullopt;
  }
  return out;
}

const boost::json::value* member(const boost::json::value& v, std::string_view key) noexcept {
  const auto* obj = v.if_object();
  if (obj == nullptr) {
    return nullptr;
  }
  return obj->if_contains(boost::json::string_view(key.data(), key.size()));
}

} // namespace thingport::thing
