#include "api/router.hpp"

#include <algorithm>

#include <boost/beast/http/field.hpp>

namespace thingport::api {

namespace {

// "/a/b/c" -> {"a","b","c"}; "/" -> {}; empty segments are kept (and match nothing).
std::vector<std::string_view> segments_of(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/')
    return out;
  path.remove_prefix(1);
  if (path.empty())
    return out;
  for (;;) {
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos)
      break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool is_capture(std::string_view seg) noexcept {
  return seg.size() >= 2 && seg.front() == '{' && seg.back() == '}';
}

} // namespace

void router::add(http::verb method, std::string_view pattern, handler h) {
  route r{method, {}, std::move(h)};
  for (auto seg : segments_of(pattern))
    r.segments.emplace_back(is_capture(seg) ? "" : seg);
  routes_.push_back(std::move(r));
}

response router::dispatch(const request& req, std::shared_ptr<reply_slot> later) const {
  auto t = parse_target(req.target());
  if (auto* p = std::get_if<problem>(&t))
    return error_response(*p);
  return dispatch(req, std::move(std::get<target>(t)), std::move(later));
}

response router::dispatch(const request& req, target t, std::shared_ptr<reply_slot> later) const {
  auto& decoded = t.segments;
  std::vector<http::verb> allowed;
  for (const auto& r : routes_) {
    if (r.segments.size() != decoded.size())
      continue;
    bool match = true;
    for (std::size_t i = 0; i < decoded.size() && match; ++i)
      match = r.segments[i].empty() ? !decoded[i].empty() : r.segments[i] == decoded[i];
    if (!match)
      continue;
    if (r.method != req.method()) {
      if (std::find(allowed.begin(), allowed.end(), r.method) == allowed.end())
        allowed.push_back(r.method);
      continue;
    }
    call c{req, {}, std::move(t.query), std::move(later)};
    for (std::size_t i = 0; i < decoded.size(); ++i)
      if (r.segments[i].empty())
        c.params.push_back(std::move(decoded[i]));
    return r.h(c);
  }
  if (allowed.empty())
    return error_response(http::status::not_found, "no such resource");
  std::string allow;
  for (auto v : allowed) {
    if (!allow.empty())
      allow += ", ";
    allow += http::to_string(v);
  }
  auto res = error_response(http::status::method_not_allowed,
                            std::string(http::to_string(req.method())) + " is not allowed here");
  res.set(http::field::allow, allow);
  return res;
}

} // namespace thingport::api
