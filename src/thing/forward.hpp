// The messages applications get for what devices post (docs/protocol.md "The cloud side"), in the
// form the platform's server-side subscription uses:
//   /{pk}/{dn}/thing/event/property/post
//     {"productKey","deviceName","requestId","gmtCreate","items":{id:{"value","time"}},
//      "checkFailedData":{id:{"value","time","code","message"}}}
//   /{pk}/{dn}/thing/event/property/batch/post and .../history/post [ours: the platform's form
//     is not documented]: the same with each items / checkFailedData entry an array of them
//   /{pk}/{dn}/thing/event/{id}/post
//     {"identifier","name","type","time","value":{..},"productKey","deviceName","requestId",
//      "gmtCreate","checkFailedData":{param:{"value","time","code","message"}}}
// Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

#include "thing/json.hpp"
#include "thing/post.hpp"

namespace thingport::thing {

struct forward_context {
  std::string_view product_key{};
  std::string_view device_name{};
  std::string_view request_id{}; // the request's id as text
  time_point now{};              // gmtCreate
};

std::string property_post_forward(const forward_context& ctx, const post_result& r);
// Batch and history posts: every value of an identifier, in the order posted.
std::string property_batch_forward(const forward_context& ctx, const post_result& r);
std::string event_forward(const forward_context& ctx, const event_item& e);

} // namespace thingport::thing
