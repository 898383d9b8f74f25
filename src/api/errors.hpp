// store::errc -> the HTTP answer. Every code has a status (400 bad input, an over-long batch
// included; 404; 409; 503 storage failure; 500 damaged database) and a message that says what
// was wrong.
// Pure; any thread.
#pragma once

#include <string_view>
#include <system_error>

#include "api/http.hpp"
#include "store/identity_store.hpp"

namespace thingport::api {

http::status status_of(store::errc e) noexcept;

// `subject` names what was looked for or created ("product a1b2c3", "device pk/dn") in the
// not_found and already_exists messages. Errors of other categories give 500.
problem store_problem(const std::error_code& ec, std::string_view subject);

// The error of the first failed result among `results` (store::result<T>s), or none.
template <class... R> std::error_code first_error(const R&... results) {
  std::error_code ec;
  ((ec = ec ? ec : (results ? std::error_code{} : results.error())), ...);
  return ec;
}

} // namespace thingport::api
