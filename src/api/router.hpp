// Path routing for the API: "/api/v1/products/{pk}/devices/{dn}" patterns, where a "{...}"
// segment captures one percent-decoded path segment. Routes are tried in the order added and
// the first whose pattern and method match answers, so a literal route added before a
// capturing one wins ("/devices/batch" before "/devices/{dn}"). A path some route matches with
// another method gets 405 with Allow; no match at all gets 404; a broken %-escape in the path
// or query gets 400.
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

namespace thingport::api {

class reply_slot;

struct call {
  const request& req;
  std::vector<std::string> params;   // the captured segments, in pattern order
  form_fields query;                 // the decoded query string
  std::shared_ptr<reply_slot> later; // for answers that come later (later.hpp); may be null
};

using handler = std::function<response(const call&)>;

// "/a/b?x=1" -> path "/a/b", query "x=1".
struct split_target {
  std::string_view path;
  std::string_view query;
};
split_target split(std::string_view target) noexcept;

class router {
public:
  void add(http::verb method, std::string_view pattern, handler h);
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
