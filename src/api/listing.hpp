// GET of a paged collection: ?offset=&limit= (query.hpp) -> 200 {"<key>":[..],"offset","limit"},
// or the query's 400, or the store's error.
#pragma once

#include <string_view>
#include <variant>

#include <boost/json.hpp>

#include "api/errors.hpp"
#include "api/query.hpp"
#include "api/router.hpp"

namespace thingport::api {

// `list(page)` returns a store::result of a vector; `to_json(item)` a JSON value for each.
template <class List, class ToJson>
response paged_list(const call& c, std::string_view key, List list, ToJson to_json) {
  const auto pg = page_of(c.query);
  if (const auto* bad = std::get_if<problem>(&pg))
    return error_response(*bad);
  const auto page = std::get<store::page>(pg);
  auto items = list(page);
  if (!items)
    return error_response(store_problem(items.error(), ""));
  boost::json::array out;
  out.reserve(items->size());
  for (const auto& item : *items)
    out.push_back(to_json(item));
  return json_response(
      http::status::ok,
      boost::json::object{{key, std::move(out)}, {"offset", page.offset}, {"limit", page.limit}});
}

} // namespace thingport::api
