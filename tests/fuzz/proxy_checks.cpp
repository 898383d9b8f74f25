#include "proxy_checks.hpp"

#include "net/proxy_header.hpp"

namespace thingport::net::fuzz {

std::string check_proxy_input(std::span<const std::uint8_t> data) {
  using status = proxy_header_result::status;
  const auto r = parse_proxy_header(data);
  if (r.state == status::complete) {
    if (r.length == 0 || r.length > data.size() || r.length > max_proxy_header)
      return "complete with a length outside the input or the bound";
    // The header alone says the same: nothing after it was looked at.
    const auto alone = parse_proxy_header(data.first(r.length));
    if (alone.state != status::complete || alone.length != r.length || alone.source != r.source)
      return "the header alone parses differently";
    // Every shorter part of it is unfinished, so a reader never stops early.
    for (std::size_t n = 0; n < r.length; ++n)
      if (parse_proxy_header(data.first(n)).state != status::need_more)
        return "a prefix of a complete header is not need_more";
  } else if (r.state == status::need_more) {
    if (data.size() >= max_proxy_header)
      return "need_more past the bound";
    for (std::size_t n = 0; n < data.size(); ++n)
      if (parse_proxy_header(data.first(n)).state != status::need_more)
        return "a prefix of an unfinished header is not need_more";
  } else if (r.error.empty()) {
    return "invalid without a reason";
  }
  return "";
}

} // namespace thingport::net::fuzz
