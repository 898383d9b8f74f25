// The API as a function from request to response: the bearer-token rule, then the routes.
// Everything under /api/ needs "Authorization: Bearer <token>" (401 otherwise, before routing,
// so unknown paths under /api/ do not tell themselves apart either); /metrics, /healthz, / and
// /auth/register/device need none.
//
// Threads: handle() may be called from one thread at a time per service (the server's); it
// never throws (an unexpected exception from a handler is a 500).
#pragma once

#include "api/context.hpp"
#include "api/http.hpp"
#include "api/router.hpp"

namespace thingport::api {

class service {
public:
  explicit service(context& ctx);
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  // `later`: where a handler may answer later (later.hpp); null when the caller cannot wait.
  response handle(const request& req, std::shared_ptr<reply_slot> later = {}) const noexcept;

private:
  context& ctx_;
  router router_;
};

} // namespace thingport::api
