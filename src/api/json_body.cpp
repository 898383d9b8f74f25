#include "api/json_body.hpp"

#include <set>
#include <vector>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>

namespace thingport::api {

namespace {

// A Boost.JSON SAX handler that only looks for a key repeated in one object (the DOM parser
// keeps the last value silently; a body with two values for one field is refused instead).
struct duplicate_finder {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);
  using ec_t = boost::system::error_code;
  using sv = boost::json::string_view;

  std::vector<std::set<std::string, std::less<>>> objects; // keys seen, per open object
  std::vector<bool> is_object;                             // the open containers, innermost last
  std::string key;
  std::optional<std::string> duplicate;

  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_array_begin(ec_t&) {
    is_object.push_back(false);
    return true;
  }
  bool on_array_end(std::size_t, ec_t&) {
    is_object.pop_back();
    return true;
  }
  bool on_object_begin(ec_t&) {
    is_object.push_back(true);
    objects.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t, ec_t&) {
    is_object.pop_back();
    objects.pop_back();
    return true;
  }
  bool on_key_part(sv s, std::size_t, ec_t&) {
    key.append(s.data(), s.size());
    return true;
  }
  bool on_key(sv s, std::size_t, ec_t& ec) {
    key.append(s.data(), s.size());
    if (!objects.back().insert(key).second) {
      duplicate = std::move(key);
      ec = boost::json::error::syntax; // stop: the answer is known
      return false;
    }
    key.clear();
    return true;
  }
  bool on_string_part(sv, std::size_t, ec_t&) { return true; }
  bool on_string(sv, std::size_t, ec_t&) { return true; }
  bool on_number_part(sv, ec_t&) { return true; }
  bool on_int64(std::int64_t, sv, ec_t&) { return true; }
  bool on_uint64(std::uint64_t, sv, ec_t&) { return true; }
  bool on_double(double, sv, ec_t&) { return true; }
  bool on_bool(bool, ec_t&) { return true; }
  bool on_null(ec_t&) { return true; }
  bool on_comment_part(sv, ec_t&) { return true; }
  bool on_comment(sv, ec_t&) { return true; }
};

} // namespace

std::optional<std::string> duplicate_key(std::string_view json) {
  boost::json::basic_parser<duplicate_finder> p(boost::json::parse_options{});
  boost::system::error_code ec;
  p.write_some(false, json.data(), json.size(), ec);
  return std::move(p.handler().duplicate);
}

json_body json_body::parse(std::string_view text, std::initializer_list<std::string_view> known) {
  json_body b;
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return b; // no body: {}
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) {
    b.fail("body is not valid JSON: " + ec.message());
    return b;
  }
  if (!v.is_object()) {
    b.fail("body must be a JSON object");
    return b;
  }
  if (auto dup = duplicate_key(text)) {
    b.fail("duplicate field \"" + *dup + "\"");
    return b;
  }
  b.obj_ = std::move(v.as_object());
  for (const auto& kv : b.obj_) {
    bool ok = false;
    for (auto k : known)
      ok = ok || k == kv.key();
    if (!ok) {
      b.fail("unknown field \"" + std::string(kv.key()) + "\"");
      break;
    }
  }
  return b;
}

void json_body::fail(std::string message) {
  if (!error_)
    error_ = problem{http::status::bad_request, std::move(message)};
}

void json_body::wrong_type(std::string_view key, std::string_view what) {
  fail("field \"" + std::string(key) + "\" must be " + std::string(what));
}

const boost::json::value* json_body::find(std::string_view key, bool required) {
  if (error_)
    return nullptr;
  const auto* v = obj_.if_contains(key);
  if (v != nullptr && v->is_null())
    v = nullptr;
  if (v == nullptr && required)
    fail("missing field \"" + std::string(key) + "\"");
  return v;
}

template <class T, class Get>
std::optional<T> json_body::typed(std::string_view key, bool required,
                                  bool (boost::json::value::*is)() const noexcept,
                                  std::string_view what, Get get) {
  const auto* v = find(key, required);
  if (v == nullptr)
    return std::nullopt;
  if (!(v->*is)()) {
    wrong_type(key, what);
    return std::nullopt;
  }
  return get(*v);
}

std::optional<std::string> json_body::string(std::string_view key, bool required) {
  return typed<std::string>(
      key, required, &boost::json::value::is_string, "a string",
      [](const boost::json::value& v) { return std::string(v.get_string()); });
}

std::optional<bool> json_body::boolean(std::string_view key, bool required) {
  return typed<bool>(key, required, &boost::json::value::is_bool, "true or false",
                     [](const boost::json::value& v) { return v.get_bool(); });
}

std::optional<boost::json::object> json_body::object(std::string_view key, bool required) {
  return typed<boost::json::object>(key, required, &boost::json::value::is_object, "an object",
                                    [](const boost::json::value& v) { return v.get_object(); });
}

std::optional<std::int64_t> json_body::integer(std::string_view key, bool required) {
  const auto* v = find(key, required);
  if (v == nullptr)
    return std::nullopt;
  if (v->is_int64())
    return v->get_int64();
  if (v->is_uint64()) {
    wrong_type(key, "an integer in range");
    return std::nullopt;
  }
  wrong_type(key, "an integer");
  return std::nullopt;
}

std::optional<std::vector<std::string>> json_body::strings(std::string_view key, std::size_t max,
                                                           bool required) {
  const auto* v = find(key, required);
  if (v == nullptr)
    return std::nullopt;
  if (!v->is_array()) {
    wrong_type(key, "an array of strings");
    return std::nullopt;
  }
  const auto& a = v->get_array();
  if (a.size() > max) {
    fail("field \"" + std::string(key) + "\" has over " + std::to_string(max) + " entries");
    return std::nullopt;
  }
  std::vector<std::string> out;
  out.reserve(a.size());
  for (const auto& e : a) {
    if (!e.is_string()) {
      wrong_type(key, "an array of strings");
      return std::nullopt;
    }
    out.emplace_back(e.get_string());
  }
  return out;
}

} // namespace thingport::api
