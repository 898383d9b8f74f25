#include "api/tsl.hpp"

#include <boost/json/parse.hpp>

#include "api/json_body.hpp"

namespace thingport::api {

std::variant<std::shared_ptr<const thing::thing_model>, problem> check_tsl(std::string_view json) {
  // Boost.JSON's own words first: they say where the text stops being JSON.
  boost::system::error_code ec;
  boost::json::parse(json, ec);
  if (ec)
    return problem{http::status::bad_request, "thing model is not valid JSON: " + ec.message()};
  if (auto dup = duplicate_key(json))
    return problem{http::status::bad_request, "thing model: duplicate key \"" + *dup + "\""};
  auto r = thing::parse_tsl(json);
  if (r)
    return std::move(r.model);
  std::string message = "thing model";
  if (!r.error.path.empty())
    message += " " + r.error.path;
  message += ": " + r.error.message;
  return problem{http::status::bad_request, std::move(message)};
}

} // namespace thingport::api
