// What the thing endpoints (things.cpp, thing_calls.cpp) share: the device check, time range
// queries, and thing data as the API shows it. Any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "api/context.hpp"
#include "api/form.hpp"
#include "api/http.hpp"
#include "store/thing_store.hpp"

namespace thingport::api {

std::string device_subject(std::string_view pk, std::string_view dn); // "device pk/dn"

// store_problem() for thing store errors too: thing_errc is 400 (409 for a shadow version
// conflict).
problem thing_problem(const std::error_code& ec, std::string_view subject);

// 404 when the product or device does not exist, 503 when the thing layer is not running or
// the store cannot say.
std::optional<problem> missing_device(context& ctx, std::string_view pk, std::string_view dn);

// ?from=&to= (ms since the epoch, inclusive), &limit= (1..1000, default 100), &order=asc|desc
// (default desc: newest first).
std::variant<store::time_query, problem> time_query_of(const form_fields& query);

// Stored JSON text as a value; text that does not parse (it should) stays a string.
boost::json::value json_of(std::string_view text);

// {"id","type","identifier","request","sent","outcome","replyCode","reply","completed"}; for
// RRPC the request and reply are base64 (they are opaque bytes), else JSON.
boost::json::object downlink_json(const store::downlink_record& d);

} // namespace thingport::api
