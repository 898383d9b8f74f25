// libFuzzer target: the API's token rule (api::admit) and router together, as api::server runs
// them. Input: the Authorization header value, '\n', a method letter, then the request target
// (encoded, doubled, dotted paths...). The property: no request reaches a handler of a route under
// /api/ without the valid token, and every protected handler sees a target whose raw path is the
// canonical "/api/..." (so no other spelling of it gets through). Also: nothing throws, and the
// router answers every admitted target.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include <boost/beast/http/field.hpp>

#include "api/admit.hpp"
#include "api/router.hpp"
#include "api/token.hpp"

namespace {

using namespace thingport::api;

constexpr std::string_view token = "s3cret-token";

const router& routes() {
  static const router r = [] {
    router r;
    const auto guarded = [](const call& c) {
      if (!bearer_matches(c.req[http::field::authorization], token))
        std::abort(); // a protected handler reached without the token
      if (!std::string_view(c.req.target()).starts_with("/api/"))
        std::abort(); // reached through another spelling of /api/
      return error_response(http::status::ok, "protected");
    };
    const auto open = [](const call&) { return error_response(http::status::ok, "open"); };
    for (auto v : {http::verb::get, http::verb::post, http::verb::delete_}) {
      r.add(v, "/api/v1/products", guarded);
      r.add(v, "/api/v1/products/{pk}", guarded);
      r.add(v, "/api/v1/products/{pk}/devices/{dn}", guarded);
      r.add(v, "/api/v1/{any}/{thing}", guarded);
      r.add(v, "/api/{a}/{b}/{c}/{d}/{e}", guarded);
    }
    r.add(http::verb::get, "/", open);
    r.add(http::verb::get, "/healthz", open);
    r.add(http::verb::get, "/metrics", open);
    r.add(http::verb::post, "/auth/register/device", open);
    r.add(http::verb::get, "/{x}/v1/products", open); // what an encoded "api" used to hit
    return r;
  }();
  return r;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto nl = in.find('\n');
  if (nl == std::string_view::npos || size < 2)
    return 0;
  const auto auth = in.substr(0, nl);
  auto rest = in.substr(nl + 1); // a method letter (G, P, D), then the target
  if (rest.empty())
    return 0;
  const auto method = rest.front() == 'P'   ? http::verb::post
                      : rest.front() == 'D' ? http::verb::delete_
                                            : http::verb::get;
  request req{method, std::string(rest.substr(1)), 11};
  if (!auth.empty() && auth.find_first_of("\r\n") == std::string_view::npos)
    req.set(http::field::authorization, auth);
  auto a = admit(req, token);
  if (const auto* refused = std::get_if<response>(&a)) {
    const auto s = refused->result_int();
    if (s != 400 && s != 401)
      std::abort();
    return 0;
  }
  const auto& t = std::get<target>(a);
  if (t.needs_token() && !bearer_matches(req[http::field::authorization], token))
    std::abort();
  const auto res = routes().dispatch(req, t);
  if (res.result_int() == 0)
    std::abort();
  return 0;
}
