#include "api/query.hpp"

#include <charconv>

namespace thingport::api {

std::optional<std::uint64_t> parse_uint(std::string_view text, std::uint64_t max) noexcept {
  std::uint64_t v = 0;
  const auto* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc{} || p != end || v > max)
    return std::nullopt;
  return v;
}

std::variant<store::page, problem> page_of(const form_fields& query) {
  store::page pg;
  if (auto o = form_value(query, "offset")) {
    auto v = parse_uint(*o, 1'000'000'000);
    if (!v)
      return problem{http::status::bad_request, "offset must be a number 0 to 1000000000"};
    pg.offset = static_cast<std::size_t>(*v);
  }
  if (auto l = form_value(query, "limit")) {
    auto v = parse_uint(*l, store::max_page_limit);
    if (!v || *v == 0)
      return problem{http::status::bad_request, "limit must be a number 1 to 1000"};
    pg.limit = static_cast<std::size_t>(*v);
  }
  return pg;
}

} // namespace thingport::api
