// application/x-www-form-urlencoded bodies and query strings (Boost.URL); paths are
// target.hpp's. Pure functions; any thread; nothing throws on input.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace thingport::api {

// "a=1&b=&c" -> {("a","1"),("b",""),("c","")}, in order, duplicates kept. Empty pieces are
// skipped. nullopt when a name or value has a broken escape or there are over `max_fields`.
using form_fields = std::vector<std::pair<std::string, std::string>>;
std::optional<form_fields> parse_form(std::string_view text, std::size_t max_fields = 64);

// The first value of `name`, or nullopt.
std::optional<std::string_view> form_value(const form_fields& f, std::string_view name);

} // namespace thingport::api
