#include "store/result.hpp"

#include <string>

namespace thingport::store {

namespace {

class category final : public std::error_category {
public:
  const char* name() const noexcept override { return "thingport.store"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
    case errc::ok:
      return "ok";
    case errc::bad_product_key:
      return "productKey must be 1 to 32 characters of A-Z a-z 0-9 _ -";
    case errc::bad_device_name:
      return "deviceName must be 4 to 32 characters of A-Z a-z 0-9 _ - @ . :";
    case errc::bad_app_key:
      return "appKey must be 1 to 32 characters of A-Z a-z 0-9 _ -";
    case errc::bad_secret:
      return "secrets must be 1 to 128 printable ASCII characters without spaces";
    case errc::bad_name:
      return "name must be 1 to 128 bytes without control characters";
    case errc::bad_topic_class:
      return "invalid topic class";
    case errc::bad_thing_model:
      return "thing model too large or contains NUL";
    case errc::bad_page:
      return "limit must be 1 to 1000";
    case errc::batch_too_large:
      return "too many entries in one request";
    case errc::not_found:
      return "not found";
    case errc::already_exists:
      return "already exists";
    case errc::limit_reached:
      return "over the limit";
    case errc::storage_failure:
      return "the database failed";
    case errc::corrupt:
      return "the database file is damaged";
    }
    return "unknown store error";
  }
};

} // namespace

const std::error_category& error_category() noexcept {
  static const category c;
  return c;
}

std::string_view to_string(errc e) noexcept {
  switch (e) {
  case errc::ok:
    return "ok";
  case errc::bad_product_key:
    return "bad_product_key";
  case errc::bad_device_name:
    return "bad_device_name";
  case errc::bad_app_key:
    return "bad_app_key";
  case errc::bad_secret:
    return "bad_secret";
  case errc::bad_name:
    return "bad_name";
  case errc::bad_topic_class:
    return "bad_topic_class";
  case errc::bad_thing_model:
    return "bad_thing_model";
  case errc::bad_page:
    return "bad_page";
  case errc::batch_too_large:
    return "batch_too_large";
  case errc::not_found:
    return "not_found";
  case errc::already_exists:
    return "already_exists";
  case errc::limit_reached:
    return "limit_reached";
  case errc::storage_failure:
    return "storage_failure";
  case errc::corrupt:
    return "corrupt";
  }
  return "unknown";
}

timestamp now() noexcept {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

} // namespace thingport::store
