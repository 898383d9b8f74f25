#include "auth/registration.hpp"

#include "auth/identity.hpp"
#include "auth/sign.hpp"

namespace thingport::auth {

namespace {

http_register_result fail(int code, std::string_view message) {
  return {code, message, {}};
}

template <typename F> lookup_status guarded(F&& f) noexcept {
  try {
    return f();
  } catch (...) {
    return lookup_status::unavailable;
  }
}

} // namespace

http_register_result check_http_registration(const http_register_request& req,
                                             const device_lookup& lookup) {
  namespace rc = registration_code;
  if (!valid_product_key(req.product_key) || !valid_device_name(req.device_name) ||
      req.random.empty() || req.random.size() > 64 || req.sign.empty()) {
    return fail(rc::bad_parameter, "invalid parameter");
  }
  const auto method = req.sign_method.empty() ? std::optional(sign_method::hmacmd5)
                                              : parse_sign_method(req.sign_method);
  if (!method) {
    return fail(rc::bad_parameter, "invalid signMethod");
  }
  product_record product;
  switch (guarded([&] { return lookup.find_product(req.product_key, product); })) {
  case lookup_status::found:
    break;
  case lookup_status::not_found:
    return fail(rc::product_not_found, "product not found");
  case lookup_status::unavailable:
    return fail(rc::unavailable, "service unavailable");
  }
  if (!product.dynamic_registration) {
    return fail(rc::registration_disabled, "dynamic registration is disabled");
  }
  if (!verify_hex_hmac(*method, product.product_secret,
                       register_sign_content(req.device_name, req.product_key, req.random),
                       req.sign)) {
    return fail(rc::bad_sign, "sign check failed");
  }
  device_record dev;
  switch (guarded([&] { return lookup.find_device(req.product_key, req.device_name, dev); })) {
  case lookup_status::found:
    break;
  case lookup_status::not_found:
    return fail(rc::device_not_found, "device not found");
  case lookup_status::unavailable:
    return fail(rc::unavailable, "service unavailable");
  }
  if (!dev.enabled) {
    return fail(rc::device_disabled, "device is disabled");
  }
  if (dev.activated) {
    return fail(rc::device_already_active, "device is already active");
  }
  http_register_result r;
  r.device_secret = std::move(dev.device_secret);
  return r;
}

} // namespace thingport::auth
