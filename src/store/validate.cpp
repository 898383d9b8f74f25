#include "store/validate.hpp"

#include <algorithm>

#include "auth/identity.hpp"

namespace thingport::store {

std::error_code check_product_key(std::string_view pk) noexcept {
  return auth::valid_product_key(pk) ? std::error_code{} : errc::bad_product_key;
}

std::error_code check_device_name(std::string_view dn) noexcept {
  return auth::valid_device_name(dn) ? std::error_code{} : errc::bad_device_name;
}

std::error_code check_app_key(std::string_view app_key) noexcept {
  return auth::valid_app_key(app_key) ? std::error_code{} : errc::bad_app_key;
}

std::error_code check_secret(std::string_view secret) noexcept {
  const bool ok =
      !secret.empty() && secret.size() <= max_secret_bytes &&
      std::all_of(secret.begin(), secret.end(), [](char c) { return c > ' ' && c < 0x7f; });
  return ok ? std::error_code{} : errc::bad_secret;
}

std::error_code check_name(std::string_view name) noexcept {
  const bool ok = !name.empty() && name.size() <= max_name_bytes &&
                  std::none_of(name.begin(), name.end(), [](char c) {
                    const auto u = static_cast<unsigned char>(c);
                    return u < 0x20 || u == 0x7f;
                  });
  return ok ? std::error_code{} : errc::bad_name;
}

std::error_code check_page(page p) noexcept {
  return p.limit >= 1 && p.limit <= max_page_limit ? std::error_code{} : errc::bad_page;
}

std::error_code check_thing_model(std::string_view json) noexcept {
  const bool ok = json.size() <= max_thing_model_bytes && json.find('\0') == std::string_view::npos;
  return ok ? std::error_code{} : errc::bad_thing_model;
}

std::error_code check_topic_class(const topic_class& tc) {
  if (auto ec = check_product_key(tc.product_key)) {
    return ec;
  }
  if (!auth::topic_class_error(tc.topic, tc.access, tc.product_key).empty()) {
    return errc::bad_topic_class;
  }
  return {};
}

std::error_code check_new_product(const new_product& spec) noexcept {
  if (auto ec = check_name(spec.name)) {
    return ec;
  }
  if (!spec.product_key.empty()) {
    if (auto ec = check_product_key(spec.product_key)) {
      return ec;
    }
  }
  if (!spec.product_secret.empty()) {
    return check_secret(spec.product_secret);
  }
  return {};
}

std::error_code check_new_device(const new_device& spec) noexcept {
  if (!spec.device_name.empty()) {
    if (auto ec = check_device_name(spec.device_name)) {
      return ec;
    }
  }
  if (!spec.device_secret.empty()) {
    return check_secret(spec.device_secret);
  }
  return {};
}

std::error_code check_new_devices(std::span<const new_device> specs) noexcept {
  if (specs.size() > max_batch_devices) {
    return errc::batch_too_large;
  }
  for (const new_device& spec : specs) {
    if (auto ec = check_new_device(spec)) {
      return ec;
    }
  }
  return {};
}

std::error_code check_new_application(const new_application& spec) noexcept {
  if (auto ec = check_name(spec.name)) {
    return ec;
  }
  if (!spec.app_key.empty()) {
    if (auto ec = check_app_key(spec.app_key)) {
      return ec;
    }
  }
  if (!spec.app_secret.empty()) {
    if (auto ec = check_secret(spec.app_secret)) {
      return ec;
    }
  }
  if (spec.products.size() > max_app_products) {
    return errc::batch_too_large;
  }
  for (const std::string& pk : spec.products) {
    if (auto ec = check_product_key(pk)) {
      return ec;
    }
  }
  return {};
}

product make_product(const new_product& spec, timestamp created) {
  return product{
      .product_key = spec.product_key.empty() ? auth::generate_product_key() : spec.product_key,
      .product_secret = spec.product_secret.empty() ? auth::generate_secret() : spec.product_secret,
      .name = spec.name,
      .dynamic_registration = spec.dynamic_registration,
      .created = created,
      .node = spec.node,
  };
}

device make_device(std::string_view product_key, const new_device& spec, timestamp created) {
  device d;
  d.product_key = product_key;
  d.device_name = spec.device_name.empty() ? auth::generate_device_name() : spec.device_name;
  d.device_secret = spec.device_secret.empty() ? auth::generate_secret() : spec.device_secret;
  d.created = created;
  return d;
}

application make_application(const new_application& spec, timestamp created) {
  application a{
      .app_key = spec.app_key.empty() ? auth::generate_app_key() : spec.app_key,
      .app_secret = spec.app_secret.empty() ? auth::generate_secret() : spec.app_secret,
      .name = spec.name,
      .enabled = true,
      .products = spec.products,
      .created = created,
  };
  std::sort(a.products.begin(), a.products.end());
  a.products.erase(std::unique(a.products.begin(), a.products.end()), a.products.end());
  return a;
}

} // namespace thingport::store
