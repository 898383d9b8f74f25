#include "api/admit.hpp"

#include <boost/beast/http/field.hpp>

#include "api/token.hpp"

namespace thingport::api {

std::variant<target, response> admit(const request& req, std::string_view token) {
  // One parse: the token is checked on exactly the decoded path that is routed.
  auto parsed = parse_target(req.target());
  if (auto* p = std::get_if<problem>(&parsed))
    return error_response(*p);
  auto& t = std::get<target>(parsed);
  if (t.needs_token() && !bearer_matches(req[http::field::authorization], token)) {
    auto res = error_response(http::status::unauthorized,
                              req.count(http::field::authorization) != 0
                                  ? "wrong token"
                                  : "missing \"Authorization: Bearer <token>\"");
    res.set(http::field::www_authenticate, "Bearer");
    return res;
  }
  return std::move(t);
}

} // namespace thingport::api
