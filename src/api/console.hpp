// GET /: the web console, one self-contained page (no framework): enter the admin token (kept in
// sessionStorage for the tab), list products, then a product's devices with their status.
#pragma once

#include <string_view>

namespace thingport::api {

std::string_view console_html() noexcept;

} // namespace thingport::api
