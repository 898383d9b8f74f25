#include "api/http.hpp"

#include <boost/beast/http/field.hpp>

#include "thing/json.hpp"

namespace thingport::api {

response text_response(http::status s, std::string_view content_type, std::string body) {
  response res{s, 11};
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

response json_response(http::status s, const boost::json::value& v) {
  // thing::to_json, not boost::json::serialize: numbers as the shortest decimal that reads back
  // the same (23.5, not 2.35E1), as devices and the cloud write them.
  return text_response(s, "application/json", thing::to_json(v));
}

response error_response(const problem& p) {
  return json_response(p.status, boost::json::object{{"code", static_cast<unsigned>(p.status)},
                                                     {"message", p.message}});
}

} // namespace thingport::api
