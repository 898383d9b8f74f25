// POST /api/v1/cluster/drain (docs/http-api.md, docs/cluster.md "Rolling upgrade"): this node
// refuses new logins from now on and closes its links at a bounded rate.
#include <boost/json.hpp>

#include "api/json_body.hpp"
#include "api/routes.hpp"

namespace thingport::api {

namespace {

constexpr std::int64_t default_rate = 500; // links closed per second
constexpr std::int64_t max_rate = 100'000;

response drain(context& ctx, const call& c) {
  if (!ctx.cluster)
    return error_response(http::status::conflict, "not a cluster node: [cluster] nats is not set");
  const auto body = c.req.body();
  std::int64_t rate = default_rate;
  if (body.find_first_not_of(" \t\r\n") != std::string::npos) {
    auto b = json_body::parse(body, {"rate"});
    const auto r = b.integer("rate");
    if (b.error())
      return error_response(*b.error());
    rate = r.value_or(default_rate);
  }
  if (rate < 1 || rate > max_rate)
    return error_response(http::status::bad_request,
                          "rate must be 1 to " + std::to_string(max_rate) + " links per second");
  const bool started = ctx.cluster->drain(static_cast<unsigned>(rate));
  return json_response(http::status::ok, boost::json::object{{"node", ctx.node},
                                                             {"state", "draining"},
                                                             {"rate", rate},
                                                             {"started", started}});
}

} // namespace

void add_cluster_routes(router& r, context& ctx) {
  r.add(http::verb::post, "/api/v1/cluster/drain", bind(ctx, drain));
}

} // namespace thingport::api
