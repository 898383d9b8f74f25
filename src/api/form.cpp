#include "api/form.hpp"

#include <boost/url/encoding_opts.hpp>
#include <boost/url/params_encoded_view.hpp>
#include <boost/url/parse_query.hpp>

namespace thingport::api {

std::optional<form_fields> parse_form(std::string_view text, std::size_t max_fields) {
  // A form body is a query string without the '?'; '+' is a space in both. Boost 1.81's
  // parse_query reads past the end of a view that is not NUL-terminated (ASan saw it), so it
  // gets its own copy.
  const std::string terminated(text);
  auto params = boost::urls::parse_query(terminated);
  if (!params)
    return std::nullopt;
  const boost::urls::encoding_opts plus(true);
  form_fields out;
  for (auto p : *params) {
    if (p.key.empty() && !p.has_value)
      continue; // "a=1&&b": an empty piece
    if (out.size() == max_fields)
      return std::nullopt;
    out.emplace_back(p.key.decode(plus), p.has_value ? p.value.decode(plus) : std::string());
  }
  return out;
}

std::optional<std::string_view> form_value(const form_fields& f, std::string_view name) {
  for (const auto& [k, v] : f)
    if (k == name)
      return std::string_view(v);
  return std::nullopt;
}

} // namespace thingport::api
