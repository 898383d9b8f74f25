// Checks at the thing store's boundary, shared by every backend: each operation calls the ones
// for its input before touching the database, so bad input writes nothing and comes back as a
// store::errc / thing_errc. Pure functions; any thread.
#pragma once

#include <span>
#include <string_view>
#include <system_error>

#include "store/thing_store.hpp"

namespace thingport::store {

std::error_code check_device(std::string_view product_key, std::string_view device_name) noexcept;
// 1..50 of [A-Za-z0-9_] (the thing model's rule).
std::error_code check_thing_identifier(std::string_view id) noexcept;
// Non-empty, at most max_thing_value_bytes, no NUL.
std::error_code check_thing_value(std::string_view value) noexcept;
// Device info keys: 1..100 of [A-Za-z0-9_.], starting with a letter.
std::error_code check_attribute_key(std::string_view key) noexcept;
// Downlink ids: 1..64 of [A-Za-z0-9_-].
std::error_code check_downlink_id(std::string_view id) noexcept;
// struct firmware_version's rule; bad_key for the module, bad_value for the version.
std::error_code check_firmware(std::string_view module, std::string_view version) noexcept;
std::error_code check_time_query(const time_query& q) noexcept;
std::error_code check_batch_size(std::size_t n) noexcept;

// The batch size, then `check` on every item; the first error.
template <typename T, typename Check>
std::error_code check_each(std::span<const T> items, Check&& check) noexcept {
  if (auto ec = check_batch_size(items.size())) {
    return ec;
  }
  for (const T& item : items) {
    if (auto ec = check(item)) {
      return ec;
    }
  }
  return {};
}

std::error_code check_property_values(std::span<const property_value> values) noexcept;
std::error_code check_event_records(std::span<const event_record> events) noexcept;

} // namespace thingport::store
