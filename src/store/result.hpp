// What every store operation returns: a result with a store::errc (or a generic error), the
// exception a backend's constructor throws when its database cannot be used, and the stored
// time. Shared by the identity, thing and session stores.
#pragma once

#include <boost/system/result.hpp>

#include <chrono>
#include <stdexcept>
#include <string_view>
#include <system_error>

namespace thingport::store {

enum class errc {
  ok = 0,
  // bad input (HTTP 400); nothing was written
  bad_product_key = 1, // not 1..32 of [A-Za-z0-9_-]
  bad_device_name,     // not 4..32 of [A-Za-z0-9_-@.:]
  bad_app_key,         // as a product key
  bad_secret,          // given secret or token not 1..128 printable ASCII without spaces
  bad_name,            // display name empty, over 128 bytes, or with control characters
  bad_topic_class,     // auth::topic_class_error() refused it
  bad_thing_model,     // over max_thing_model_bytes or contains NUL
  bad_page,            // limit 0 or over max_page_limit
  batch_too_large,     // more than max_batch_devices, or more than max_app_products
  // state (HTTP 404 / 409)
  not_found,      // no such product / device / application (or a product an app names)
  already_exists, // same key, or same (productKey, deviceName), or same topic class
  limit_reached,  // the change would pass a bound on how many there may be (sub-devices)
  // the database (HTTP 500 / 503)
  storage_failure, // I/O error, disk full, lock wait timed out
  corrupt,         // the database file is damaged
};

const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

// Short stable name ("already_exists", ...) for logs and API error bodies.
std::string_view to_string(errc e) noexcept;

template <typename T> using result = boost::system::result<T, std::error_code>;

// Thrown by a backend's constructor when the database cannot be used: unopenable file, not a
// thingport database, damaged, or a schema newer than this build. what() says which and where.
class open_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Milliseconds since the Unix epoch, as stored.
using timestamp = std::chrono::sys_time<std::chrono::milliseconds>;
timestamp now() noexcept;

} // namespace thingport::store

template <> struct std::is_error_code_enum<thingport::store::errc> : std::true_type {};
