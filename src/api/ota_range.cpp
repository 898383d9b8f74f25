#include "api/ota_range.hpp"

#include <charconv>
#include <optional>

namespace thingport::api {

namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

std::optional<std::uint64_t> number(std::string_view s) noexcept {
  if (s.empty() || s.size() > 19)
    return std::nullopt;
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc{} || end != s.data() + s.size())
    return std::nullopt;
  return n;
}

} // namespace

range_answer parse_range(std::string_view header, std::uint64_t size) noexcept {
  header = trim(header);
  constexpr std::string_view unit = "bytes=";
  if (header.size() < unit.size())
    return {};
  for (std::size_t i = 0; i < unit.size(); ++i) {
    char c = header[i];
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
    if (c != unit[i])
      return {};
  }
  const std::string_view spec = trim(header.substr(unit.size()));
  if (spec.find(',') != std::string_view::npos)
    return {};
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos)
    return {};
  const auto a = trim(spec.substr(0, dash)), b = trim(spec.substr(dash + 1));
  if (a.empty()) { // the last n bytes
    const auto n = number(b);
    if (!n)
      return {};
    if (*n == 0 || size == 0)
      return {range_kind::unsatisfiable, {}};
    const std::uint64_t first = *n >= size ? 0 : size - *n;
    return {range_kind::partial, {first, size - 1}};
  }
  const auto first = number(a);
  if (!first)
    return {};
  std::uint64_t last = size == 0 ? 0 : size - 1;
  if (!b.empty()) {
    const auto l = number(b);
    if (!l || *l < *first)
      return {};
    last = *l < last ? *l : last;
  }
  if (*first >= size)
    return {range_kind::unsatisfiable, {}};
  return {range_kind::partial, {*first, last}};
}

} // namespace thingport::api
