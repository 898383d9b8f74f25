#include "api/target.hpp"

#include <boost/url/decode_view.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/pct_string_view.hpp>
#include <boost/url/url_view.hpp>

namespace thingport::api {

namespace {

bool unreserved(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// nullopt when the encoded segment is canonical; the reason otherwise.
const char* non_canonical(std::string_view encoded, std::string_view decoded) noexcept {
  if (decoded.empty())
    return "empty path segment";
  if (decoded == "." || decoded == "..")
    return "dot segment in the path";
  for (std::size_t i = encoded.find('%'); i != std::string_view::npos;
       i = encoded.find('%', i + 3)) {
    // Boost.URL has checked the escape is well formed; it decodes it too (no allocation).
    const auto esc = boost::urls::make_pct_string_view(encoded.substr(i, 3));
    if (!esc)
      return "broken escape in the path";
    const char c = *(**esc).begin();
    if (unreserved(c))
      return "needlessly escaped character in the path";
    if (c == '/' || c == '\0')
      return "escaped '/' or NUL in the path";
  }
  return nullptr;
}

} // namespace

std::variant<target, problem> parse_target(std::string_view raw, std::size_t max_query_fields) {
  auto url = boost::urls::parse_origin_form(raw);
  if (!url)
    return problem{http::status::bad_request, "bad request target: " + url.error().message()};
  target t;
  if (url->encoded_path() != "/") {
    for (auto seg : url->encoded_segments()) {
      std::string decoded = seg.decode();
      if (const char* why = non_canonical(seg, decoded))
        return problem{http::status::bad_request, std::string("non-canonical path: ") + why};
      t.segments.push_back(std::move(decoded));
    }
  }
  if (url->has_query()) {
    auto q = parse_form(url->encoded_query(), max_query_fields);
    if (!q)
      return problem{http::status::bad_request, "broken query string"};
    t.query = std::move(*q);
  }
  return t;
}

} // namespace thingport::api
