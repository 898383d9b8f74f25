// Property and event posts checked against the thing model (docs/protocol.md "Alink messages"): the
// platform's rule is that a value that fails its data type is dropped and reported
// (checkFailedData) while the rest is stored and the reply is still 200. A product without a thing
// model takes every value as it comes (only the identifiers are checked: they become keys in
// storage and in URLs).
//
// The whole request is refused, nothing kept, with:
//   bad_params (460)          params not of the documented shape, or empty;
//   too_many_properties (6106) over max_properties identifiers (or max_batch_values values);
//   not_defined (6320)        an event post for an event the thing model does not define.
// Per value (checkFailedData): 6304 not in the model, the data type's code (value_check.hpp),
// 460 for an identifier that is not 1..50 of [A-Za-z0-9_] (no thing model) or a `time` that is
// not a non-negative integer of milliseconds.
//
// Times: a value's own `time` when given ({"value":..,"time":ms}), else `now`. Pure functions.
#pragma once

#include <boost/json/value.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "thing/json.hpp"
#include "thing/tsl.hpp"

namespace thingport::thing {

struct post_limits {
  std::size_t max_properties = 200;    // identifiers in one post (the platform's limit)
  std::size_t max_batch_values = 2000; // [ours] values in one batch or history post
  std::size_t max_batch_events = 200;  // [ours] events in one batch or history post
};

struct property_item {
  std::string identifier{};
  boost::json::value value{}; // normalised (value_check.hpp)
  time_point time{};
};

// A value dropped by the checks, as applications see it in checkFailedData.
struct failed_item {
  std::string identifier{}; // property, or event output parameter
  boost::json::value value{};
  time_point time{};
  int code = 0;
  std::string message{};
};

struct event_item {
  std::string identifier{};
  std::string name{};           // from the thing model; empty without one
  std::string type{};           // "info" / "alert" / "error"; empty without a thing model
  boost::json::object output{}; // the output parameters that passed
  time_point time{};
  std::vector<failed_item> failed{}; // the output parameters that did not
};

struct post_result {
  std::error_code ec{}; // the whole request refused (see above); the lists are then empty
  std::vector<property_item> properties{};
  std::vector<failed_item> failed{}; // properties dropped
  std::vector<event_item> events{};
};

// thing.event.property.post: {"Power":{"value":"on","time":1524448722000},"WF":23.6}
post_result check_property_post(const thing_model* model, const boost::json::value& params,
                                time_point now, const post_limits& limits = {});

// thing.event.{id}.post: {"value":{"Power":"on"},"time":1524448722000}
post_result check_event_post(const thing_model* model, std::string_view event_id,
                             const boost::json::value& params, time_point now);

// thing.event.property.batch.post:
// {"properties":{"P":[{"value":..,"time":..},..]},"events":{"E":[{"value":{..},"time":..},..]}}
post_result check_batch_post(const thing_model* model, const boost::json::value& params,
                             time_point now, const post_limits& limits = {});

// thing.event.property.history.post: [{"identity":{"productKey","deviceName"},
//   "properties":[{"P":{"value","time"}},..],"events":[{"E":{"value":{..},"time"}},..]},..]
// Entries of another identity (a gateway's sub-devices) are skipped; bad_params when none is
// this device's.
post_result check_history_post(const thing_model* model, std::string_view product_key,
                               std::string_view device_name, const boost::json::value& params,
                               time_point now, const post_limits& limits = {});

} // namespace thingport::thing
