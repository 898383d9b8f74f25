#include "api/routes.hpp"
#include "auth/identity.hpp"

namespace thingport::api {

namespace {

std::optional<problem> check_ids(const call& c, path_ids ids) {
  const auto not_found = [](std::string what) {
    return problem{http::status::not_found, std::move(what) + " not found"};
  };
  switch (ids) {
  case path_ids::none:
    return std::nullopt;
  case path_ids::app:
    if (!auth::valid_app_key(c.params.at(0)))
      return not_found("application " + c.params[0]);
    return std::nullopt;
  case path_ids::product_device:
    if (!auth::valid_device_name(c.params.at(1)))
      return not_found("device " + c.params[0] + "/" + c.params[1]);
    [[fallthrough]];
  case path_ids::product:
    if (!auth::valid_product_key(c.params.at(0)))
      return not_found("product " + c.params[0]);
    return std::nullopt;
  }
  return std::nullopt;
}

} // namespace

handler bind(context& ctx, context_handler f, path_ids ids) {
  return [&ctx, f, ids](const call& c) {
    if (auto p = check_ids(c, ids))
      return error_response(*p);
    return f(ctx, c);
  };
}

} // namespace thingport::api
