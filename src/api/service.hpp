// The API as a function from request to response: the bearer-token rule, then the routes.
// Everything under /api/ needs "Authorization: Bearer <token>" (401 otherwise, before routing,
// so unknown paths under /api/ do not tell themselves apart either); /metrics, /healthz, / and
// /auth/register/device need none.
//
// The decision is taken once, by admit(), from the request's header alone: the server calls it
// before reading the body, so a client without the token cannot make the server hold a body.
//
// Threads: admit() and handle() may be called from one thread at a time per service (the server's);
// it never throws (an unexpected exception from a handler is a 500).
#pragma once

#include <memory>
#include <variant>

#include "api/context.hpp"
#include "api/http.hpp"
#include "api/router.hpp"

namespace thingport::api {

class service {
public:
  explicit service(context& ctx);
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  // From the header (the body may be unread): the parsed target to route, or the refusal
  // (400 for a target parse_target refuses, 401 for a missing or wrong token under /api).
  std::variant<target, response> admit(const request& req) const noexcept;
  // Routes an admitted request; `t` is what admit() returned for it. `later`: where a handler
  // may answer later (later.hpp); null when the caller cannot wait.
  response handle(const request& req, target t,
                  std::shared_ptr<reply_slot> later = {}) const noexcept;
  // admit() then handle(), for callers that have the whole request.
  response handle(const request& req, std::shared_ptr<reply_slot> later = {}) const noexcept;

private:
  context& ctx_;
  router router_;
};

} // namespace thingport::api
