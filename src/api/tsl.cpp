#include "api/tsl.hpp"

#include <boost/json/parse.hpp>

namespace thingport::api {

std::optional<std::string> validate_tsl(std::string_view json) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(json, ec);
  if (ec)
    return "thing model is not valid JSON: " + ec.message();
  if (!v.is_object())
    return std::string("thing model must be a JSON object");
  const auto& o = v.get_object();
  if (const auto* s = o.if_contains("schema"); s != nullptr && !s->is_string())
    return std::string("thing model \"schema\" must be a string");
  if (const auto* p = o.if_contains("profile"); p != nullptr && !p->is_object())
    return std::string("thing model \"profile\" must be an object");
  for (const char* key : {"properties", "events", "services"}) {
    const auto* a = o.if_contains(key);
    if (a == nullptr)
      continue;
    if (!a->is_array())
      return "thing model \"" + std::string(key) + "\" must be an array";
    for (const auto& e : a->get_array())
      if (!e.is_object())
        return "thing model \"" + std::string(key) + "\" entries must be objects";
  }
  return std::nullopt;
}

} // namespace thingport::api
