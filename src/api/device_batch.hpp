// POST /api/v1/products/{pk}/devices/batch (device_batch.cpp explains the body).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "api/context.hpp"
#include "api/router.hpp"

namespace thingport::api {

response create_device_batch(context& ctx, const call& c);

// "prefix<number>" for 1..count, the number zero-padded to the width of `count` and so that
// every name has at least 4 characters. Pure.
std::vector<std::string> numbered_names(std::string_view prefix, std::size_t count);

} // namespace thingport::api
