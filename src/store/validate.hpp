// Checks at the store boundary, shared by every backend: each write operation calls the ones
// for its input before touching the database, so bad input from an API body writes nothing and
// comes back as a store::errc. Identity rules are auth/identity.hpp's (no '/', '+', '#', NUL
// can reach a topic). Pure functions; any thread.
#pragma once

#include <span>
#include <string_view>
#include <system_error>

#include "store/identity_store.hpp"

namespace thingport::store {

inline constexpr std::size_t max_secret_bytes = 128;
inline constexpr std::size_t max_name_bytes = 128;

std::error_code check_product_key(std::string_view pk) noexcept;
std::error_code check_device_name(std::string_view dn) noexcept;
std::error_code check_app_key(std::string_view app_key) noexcept;
// Given secrets and tokens: 1..max_secret_bytes of printable ASCII without spaces.
std::error_code check_secret(std::string_view secret) noexcept;
// Display names: 1..max_name_bytes, no ASCII control characters (UTF-8 otherwise as given).
std::error_code check_name(std::string_view name) noexcept;
std::error_code check_page(page p) noexcept;
std::error_code check_thing_model(std::string_view json) noexcept;
std::error_code check_topic_class(const topic_class& tc);

// Whole specs. Empty keys, names and secrets are allowed: the store generates them.
std::error_code check_new_product(const new_product& spec) noexcept;
std::error_code check_new_device(const new_device& spec) noexcept;
std::error_code check_new_devices(std::span<const new_device> specs) noexcept;
std::error_code check_new_application(const new_application& spec) noexcept;

// The record a spec describes, with generated keys, names and secrets filled in and `created`
// set. Throws std::runtime_error only when the system's random generator fails.
product make_product(const new_product& spec, timestamp created);
device make_device(std::string_view product_key, const new_device& spec, timestamp created);
// Products sorted and deduplicated.
application make_application(const new_application& spec, timestamp created);

} // namespace thingport::store
