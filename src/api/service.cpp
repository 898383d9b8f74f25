#include "api/service.hpp"

#include <exception>

#include <boost/beast/http/field.hpp>
#include <spdlog/spdlog.h>

#include "api/routes.hpp"
#include "api/token.hpp"

namespace thingport::api {

service::service(context& ctx) : ctx_(ctx) {
  add_product_routes(router_, ctx_);
  add_device_routes(router_, ctx_);
  add_app_routes(router_, ctx_);
  add_pub_routes(router_, ctx_);
  add_thing_routes(router_, ctx_);
  add_thing_call_routes(router_, ctx_);
  add_system_routes(router_, ctx_);
}

response service::handle(const request& req, std::shared_ptr<reply_slot> later) const noexcept {
  try {
    const auto path = split(req.target()).path;
    if (path.starts_with("/api/") && !bearer_matches(req[http::field::authorization], ctx_.token)) {
      auto res = error_response(http::status::unauthorized,
                                req.count(http::field::authorization) != 0
                                    ? "wrong token"
                                    : "missing \"Authorization: Bearer <token>\"");
      res.set(http::field::www_authenticate, "Bearer");
      return res;
    }
    return router_.dispatch(req, std::move(later));
  } catch (const std::exception& e) {
    spdlog::error("http {} {}: {}", std::string(req.method_string()), std::string(req.target()),
                  e.what());
  } catch (...) {
    spdlog::error("http {} {}: unknown exception", std::string(req.method_string()),
                  std::string(req.target()));
  }
  try {
    return error_response(http::status::internal_server_error, "internal error");
  } catch (...) {
    return response{http::status::internal_server_error, 11};
  }
}

} // namespace thingport::api
