#include "api/service.hpp"

#include <exception>

#include <boost/beast/http/field.hpp>
#include <spdlog/spdlog.h>

#include "api/admit.hpp"
#include "api/routes.hpp"

namespace thingport::api {

service::service(context& ctx) : ctx_(ctx) {
  add_product_routes(router_, ctx_);
  add_device_routes(router_, ctx_);
  add_app_routes(router_, ctx_);
  add_pub_routes(router_, ctx_);
  add_thing_routes(router_, ctx_);
  add_thing_call_routes(router_, ctx_);
  add_system_routes(router_, ctx_);
  add_ota_routes(router_, ctx_);
  add_topology_routes(router_, ctx_);
  add_config_routes(router_, ctx_);
  add_cluster_routes(router_, ctx_);
}

namespace {

response internal_error() noexcept {
  try {
    return error_response(http::status::internal_server_error, "internal error");
  } catch (...) {
    return response{http::status::internal_server_error, 11};
  }
}

} // namespace

std::variant<target, response> service::admit(const request& req) const noexcept {
  try {
    return api::admit(req, ctx_.token);
  } catch (...) {
    return internal_error();
  }
}

response service::handle(const request& req, target t,
                         std::shared_ptr<reply_slot> later) const noexcept {
  try {
    return router_.dispatch(req, std::move(t), std::move(later));
  } catch (const std::exception& e) {
    spdlog::error("http {} {}: {}", std::string(req.method_string()), std::string(req.target()),
                  e.what());
  } catch (...) {
    spdlog::error("http {} {}: unknown exception", std::string(req.method_string()),
                  std::string(req.target()));
  }
  return internal_error();
}

response service::handle(const request& req, std::shared_ptr<reply_slot> later) const noexcept {
  auto a = admit(req);
  if (auto* refused = std::get_if<response>(&a))
    return std::move(*refused);
  return handle(req, std::move(std::get<target>(a)), std::move(later));
}

} // namespace thingport::api
