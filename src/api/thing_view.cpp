#include "api/thing_view.hpp"

#include <boost/json/parse.hpp>

#include "api/errors.hpp"
#include "api/query.hpp"
#include "auth/base64.hpp"

namespace thingport::api {

namespace json = boost::json;

std::string device_subject(std::string_view pk, std::string_view dn) {
  return "device " + std::string(pk) + "/" + std::string(dn);
}

problem thing_problem(const std::error_code& ec, std::string_view subject) {
  if (ec.category() != store::thing_error_category())
    return store_problem(ec, subject);
  const auto e = static_cast<store::thing_errc>(ec.value());
  if (e == store::thing_errc::version_conflict)
    return {http::status::conflict, "version conflict"};
  return {http::status::bad_request, "refused by the thing store: " + std::string(to_string(e))};
}

std::optional<problem> missing_device(context& ctx, std::string_view pk, std::string_view dn) {
  if (ctx.thing == nullptr)
    return problem{http::status::service_unavailable, "the thing layer is not running"};
  auth::device_record rec;
  switch (ctx.dir.find_device(pk, dn, rec)) {
  case auth::lookup_status::found:
    return std::nullopt;
  case auth::lookup_status::unavailable:
    return problem{http::status::service_unavailable, "the store is unavailable"};
  default:
    if (ctx.dir.permissions(pk) == nullptr)
      return problem{http::status::not_found, "product " + std::string(pk) + " not found"};
    return problem{http::status::not_found, device_subject(pk, dn) + " not found"};
  }
}

std::variant<store::time_query, problem> time_query_of(const form_fields& query) {
  store::time_query q;
  constexpr std::uint64_t max_ms = 253402300799999; // 9999-12-31
  for (auto [name, field] : {std::pair{"from", &q.from}, std::pair{"to", &q.to}}) {
    if (auto v = form_value(query, name)) {
      auto ms = parse_uint(*v, max_ms);
      if (!ms)
        return problem{http::status::bad_request,
                       std::string(name) + " must be milliseconds since the epoch"};
      *field = store::timestamp{std::chrono::milliseconds{static_cast<std::int64_t>(*ms)}};
    }
  }
  if (q.from > q.to)
    return problem{http::status::bad_request, "from is after to"};
  if (auto l = form_value(query, "limit")) {
    auto v = parse_uint(*l, store::max_page_limit);
    if (!v || *v == 0)
      return problem{http::status::bad_request, "limit must be a number 1 to 1000"};
    q.limit = static_cast<std::size_t>(*v);
  }
  if (auto o = form_value(query, "order")) {
    if (*o != "asc" && *o != "desc")
      return problem{http::status::bad_request, "order must be asc or desc"};
    q.ascending = *o == "asc";
  }
  return q;
}

json::value json_of(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec)
    return json::string(text);
  return v;
}

json::object downlink_json(const store::downlink_record& d) {
  const bool raw = d.type == store::downlink_type::rrpc;
  const auto body = [raw](std::string_view text) -> json::value {
    return raw ? json::value(json::string(auth::base64_encode(text))) : json_of(text);
  };
  json::object o{{"id", d.id},
                 {"type", store::to_string(d.type)},
                 {"identifier", d.identifier},
                 {"request", body(d.request)},
                 {"sent", millis(d.sent)},
                 {"outcome", store::to_string(d.outcome)},
                 {"replyCode", nullptr},
                 {"reply", nullptr},
                 {"completed", nullptr}};
  if (d.reply_code)
    o["replyCode"] = *d.reply_code;
  if (d.reply)
    o["reply"] = body(*d.reply);
  if (d.completed)
    o["completed"] = millis(*d.completed);
  return o;
}

} // namespace thingport::api
