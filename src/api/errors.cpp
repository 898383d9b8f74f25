#include "api/errors.hpp"

#include <iterator>
#include <string>

namespace thingport::api {

namespace {

struct answer {
  store::errc code;
  http::status status;
  std::string_view message;
};

constexpr auto bad = http::status::bad_request;
// One row per store::errc (the static_assert counts them).
constexpr answer answers[] = {
    {store::errc::ok, http::status::ok, "ok"},
    {store::errc::bad_product_key, bad, "invalid productKey: 1 to 32 characters of [A-Za-z0-9_-]"},
    {store::errc::bad_device_name, bad,
     "invalid deviceName: 4 to 32 characters of [A-Za-z0-9_-@.:]"},
    {store::errc::bad_app_key, bad, "invalid appKey: 1 to 32 characters of [A-Za-z0-9_-]"},
    {store::errc::bad_secret, bad,
     "invalid secret: 1 to 128 printable ASCII characters without spaces"},
    {store::errc::bad_name, bad, "invalid name: 1 to 128 bytes without control characters"},
    {store::errc::bad_topic_class, bad, "invalid topic class"},
    {store::errc::bad_thing_model, bad, "invalid thing model: over 1 MiB or contains NUL"},
    {store::errc::bad_page, bad, "invalid page: limit must be 1 to 1000"},
    {store::errc::batch_too_large, bad,
     "too many entries: at most 50000 devices per batch, 1000 products per app"},
    {store::errc::not_found, http::status::not_found, "not found"},
    {store::errc::already_exists, http::status::conflict, "already exists"},
    {store::errc::limit_reached, http::status::conflict, "over the limit"},
    {store::errc::storage_failure, http::status::service_unavailable, "the store is unavailable"},
    {store::errc::corrupt, http::status::internal_server_error, "the store is damaged"},
};
static_assert(std::size(answers) == static_cast<std::size_t>(store::errc::corrupt) + 1);

answer answer_of(store::errc e) noexcept {
  for (const auto& a : answers)
    if (a.code == e)
      return a;
  return {e, http::status::internal_server_error, "store error"};
}

} // namespace

http::status status_of(store::errc e) noexcept {
  return answer_of(e).status;
}

problem store_problem(const std::error_code& ec, std::string_view subject) {
  if (ec.category() != store::error_category())
    return {http::status::internal_server_error, "internal error: " + ec.message()};
  const auto e = static_cast<store::errc>(ec.value());
  const auto a = answer_of(e);
  std::string msg(a.message);
  if ((e == store::errc::not_found || e == store::errc::already_exists) && !subject.empty())
    msg = std::string(subject) + " " + msg;
  return {a.status, std::move(msg)};
}

} // namespace thingport::api
