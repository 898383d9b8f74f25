#include "api/json_body.hpp"

#include <boost/json/parse.hpp>

namespace thingport::api {

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
