// Path routing for the API: "/api/v1/products/{pk}/devices/{dn}" patterns, where a "{...}"
// segment captures one percent-decoded path segment (target.hpp parses the target). Routes are
// tried in the order added and
// the first whose pattern and method match answers, so a literal route added before a
// capturing one wins ("/devices/batch" before "/devices/{dn}"). A path some route matches with
// another method gets 405 with Allow; no match at all gets 404; a target parse_target refuses
// (a broken %-escape, a non-canonical path, a broken query) gets 400.
//
// Threads: add() before use; dispatch() is const and may run on any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/form.hpp"
#include "api/http.hpp"
#include "api/target.hpp"

namespace thingport::api {

class reply_slot;

struct call {
  const request& req;
  std::vector<std::string> params;   // the captured segments, in pattern order
  form_fields query;                 // the decoded query string
  std::shared_ptr<reply_slot> later; // for answers that come later (later.hpp); may be null
};

using handler = std::function<response(const call&)>;

class router {
public:
  void add(http::verb method, std::string_view pattern, handler h);
  // Routes on `t`, which must be parse_target(req.target()): the caller decides on the same
  // parsed target (the token check) that is routed.
  response dispatch(const request& req, target t, std::shared_ptr<reply_slot> later = {}) const;
  // Parses the target, then routes it.
  response dispatch(const request& req, std::shared_ptr<reply_slot> later = {}) const;

private:
  struct route {
    http::verb method;
    std::vector<std::string> segments; // "" for a capture
    handler h;
  };
  std::vector<route> routes_;
};

} // namespace thingport::api
