// The API's endpoints, one group per resource (docs/http-api.md). Each add_* registers its routes
// on `r`; the handlers keep a reference to `ctx`. Handlers run on the API's thread and may
// block on the store.
#pragma once

#include "api/context.hpp"
#include "api/router.hpp"

namespace thingport::api {

void add_product_routes(router& r, context& ctx);    // products, topic classes, thing model
void add_device_routes(router& r, context& ctx);     // devices, batch, status, enable/disable
void add_app_routes(router& r, context& ctx);        // application clients
void add_pub_routes(router& r, context& ctx);        // cloud -> device messages
void add_thing_routes(router& r, context& ctx);      // properties, history, events, shadow
void add_thing_call_routes(router& r, context& ctx); // property set, services, RRPC, downlinks
void add_system_routes(router& r, context& ctx);     // /healthz, /metrics, /, registration
void add_ota_routes(router& r, context& ctx);        // firmware versions devices report
void add_ota_job_routes(router& r, context& ctx);    // OTA firmware and upgrade jobs
void add_topology_routes(router& r, context& ctx);   // a gateway's sub-devices
void add_config_routes(router& r, context& ctx);     // remote configuration files and pushes
void add_cluster_routes(router& r, context& ctx);    // POST /api/v1/cluster/drain

// What the captured path segments are. A segment that cannot be such an identity names
// nothing that can exist: 404 before the handler runs.
enum class path_ids { none, product, product_device, app };

using context_handler = response (*)(context&, const call&);
handler bind(context& ctx, context_handler f, path_ids ids = path_ids::none);

} // namespace thingport::api
