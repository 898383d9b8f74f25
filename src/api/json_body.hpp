// A JSON request body read strictly, so a typo or a wrong type is a 400 that names the field
// rather than a silently ignored value:
//   - it must parse and be an object (an empty body counts as {});
//   - no object in it may repeat a key ("duplicate field \"x\"", at any depth);
//   - every key must be one the endpoint knows ("unknown field \"x\"" otherwise);
//   - each getter checks the type ("field \"x\" must be a string"); null counts as absent.
// The first problem found is kept; getters return nullopt once there is one. Never throws on
// input. One thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "api/http.hpp"

namespace thingport::api {

// The first key repeated within one object of `json` (at any depth), if any. Text that is not
// JSON has none (the caller reports the parse error).
std::optional<std::string> duplicate_key(std::string_view json);

class json_body {
public:
  static json_body parse(std::string_view text, std::initializer_list<std::string_view> known);

  const std::optional<problem>& error() const noexcept { return error_; }
  // The whole body, for shapes the getters do not cover (arrays of objects).
  const boost::json::object& raw() const noexcept { return obj_; }

  std::optional<std::string> string(std::string_view key, bool required = false);
  std::optional<bool> boolean(std::string_view key, bool required = false);
  std::optional<std::int64_t> integer(std::string_view key, bool required = false);
  std::optional<boost::json::object> object(std::string_view key, bool required = false);
  // An array of at most `max` strings.
  std::optional<std::vector<std::string>> strings(std::string_view key, std::size_t max,
                                                  bool required = false);

  // Records a problem found by the caller (a value of the right type but out of range).
  void fail(std::string message);

private:
  const boost::json::value* find(std::string_view key, bool required);
  void wrong_type(std::string_view key, std::string_view what);
  template <class T, class Get>
  std::optional<T> typed(std::string_view key, bool required,
                         bool (boost::json::value::*is)() const noexcept, std::string_view what,
                         Get get);

  boost::json::object obj_;
  std::optional<problem> error_;
};

} // namespace thingport::api
