// OTA firmware and upgrade jobs (docs/http-api.md "OTA"): the firmware list, one firmware, its
// removal; creating, listing, showing and canceling jobs. The upload and the download are
// streamed by the server itself (ota_transfer.hpp).
#include <boost/json.hpp>

#include "api/errors.hpp"
#include "api/json_body.hpp"
#include "api/query.hpp"
#include "api/routes.hpp"
#include "api/thing_view.hpp"

namespace thingport::api {

namespace json = boost::json;

namespace {

// A job's scheduleTime: up to 30 days ahead; a minute in the past is taken as now (clocks).
constexpr std::int64_t max_schedule_ahead_ms = 30LL * 24 * 3600 * 1000;
constexpr std::int64_t max_schedule_past_ms = 60'000;

std::optional<problem> no_ota(context& ctx, std::string_view pk) {
  if (ctx.ota == nullptr)
    return problem{http::status::service_unavailable, "OTA is not running"};
  if (ctx.dir.permissions(pk) == nullptr)
    return problem{http::status::not_found, "product " + std::string(pk) + " not found"};
  return std::nullopt;
}

json::object firmware_json(const store::firmware_record& f) {
  return json::object{{"firmwareId", f.id},
                      {"productKey", f.product_key},
                      {"version", f.version},
                      {"module", f.module},
                      {"size", f.size},
                      {"md5", f.md5},
                      {"sha256", f.sha256},
                      {"srcVersions", f.src_versions},
                      {"createdAt", millis(f.created)}};
}

json::object counts_json(const store::ota_counts& c) {
  return json::object{{"waiting", c.waiting},
                      {"inProgress", c.in_progress},
                      {"succeeded", c.succeeded},
                      {"failed", c.failed},
                      {"canceled", c.canceled}};
}

// A running job whose scheduleTime is ahead shows as "scheduled".
json::object job_json(const store::ota_job_record& j) {
  const bool waits = j.state == store::ota_job_state::running && !j.started(store::now());
  return json::object{{"jobId", j.id},
                      {"productKey", j.product_key},
                      {"firmwareId", j.firmware_id},
                      {"version", j.version},
                      {"module", j.module},
                      {"state", waits ? std::string_view("scheduled") : to_string(j.state)},
                      {"scheduleTime", j.start ? json::value(millis(*j.start)) : json::value()},
                      {"ratePerMinute", j.rate_per_minute},
                      {"retries", j.retries},
                      {"timeoutMinutes", j.timeout_ms / 60'000},
                      {"downloadProtocol", j.download_protocol},
                      {"createdAt", millis(j.created)}};
}

response list_firmwares(context& ctx, const call& c) {
  const auto& pk = c.params[0];
  if (auto p = no_ota(ctx, pk))
    return error_response(*p);
  auto all = ctx.ota->store().firmwares(pk);
  if (!all)
    return error_response(store_problem(all.error(), "firmware"));
  json::array out;
  for (const auto& f : *all)
    out.push_back(firmware_json(f));
  return json_response(http::status::ok, json::object{{"firmwares", std::move(out)}});
}

response get_firmware(context& ctx, const call& c) {
  const auto &pk = c.params[0], &id = c.params[1];
  if (auto p = no_ota(ctx, pk))
    return error_response(*p);
  auto f = ctx.ota->store().firmware(pk, id);
  if (!f)
    return error_response(store_problem(f.error(), "firmware " + id));
  return json_response(http::status::ok, firmware_json(*f));
}

response delete_firmware(context& ctx, const call& c) {
  const auto &pk = c.params[0], &id = c.params[1];
  if (auto p = no_ota(ctx, pk))
    return error_response(*p);
  auto r = ctx.ota->store().delete_firmware(pk, id);
  if (!r)
    return error_response(store_problem(r.error(), "firmware " + id));
  if (!*r)
    return error_response(http::status::conflict, "firmware " + id + " is used by a running job");
  ctx.ota->forget_firmware(id, true); // the nodes of a cluster remove their copies too
  return json_response(http::status::ok, json::object{{"firmwareId", id}, {"deleted", true}});
}

response create_job(context& ctx, const call& c) {
  const auto& pk = c.params[0];
  if (auto p = no_ota(ctx, pk))
    return error_response(*p);
  auto body = json_body::parse(c.req.body(),
                               {"firmwareId", "devices", "fromVersions", "ratePerMinute", "retries",
                                "timeoutMinutes", "downloadProtocol", "scheduleTime"});
  platform::job_spec spec;
  spec.firmware_id = body.string("firmwareId", true).value_or("");
  spec.devices = body.strings("devices", 100'000);
  spec.from_versions = body.strings("fromVersions", 100).value_or(std::vector<std::string>{});
  const auto rate = body.integer("ratePerMinute").value_or(0);
  const auto retries = body.integer("retries").value_or(0);
  const auto timeout = body.integer("timeoutMinutes").value_or(0);
  const auto protocol = body.string("downloadProtocol", false).value_or("https");
  const auto at = body.integer("scheduleTime");
  const auto now_ms = millis(store::now());
  if (!body.error()) {
    if (body.raw().contains("ratePerMinute") && (rate < 1 || rate > 1'000'000))
      body.fail("ratePerMinute: 1..1000000");
    else if (retries < 0 || retries > 10)
      body.fail("retries: 0..10");
    else if (timeout < 0 || timeout > 7 * 24 * 60)
      body.fail("timeoutMinutes: 0..10080");
    else if (protocol != "https" && protocol != "mqtt")
      body.fail("downloadProtocol: https or mqtt");
    else if (at && (*at < now_ms - max_schedule_past_ms || *at > now_ms + max_schedule_ahead_ms))
      body.fail("scheduleTime: milliseconds since the epoch, from now to 30 days ahead");
  }
  if (body.error())
    return error_response(*body.error());
  spec.rate_per_minute = static_cast<std::uint32_t>(rate);
  spec.retries = static_cast<std::uint32_t>(retries);
  spec.timeout_minutes = static_cast<std::uint32_t>(timeout);
  spec.download_protocol = protocol;
  if (at)
    spec.start = store::timestamp(std::chrono::milliseconds(*at));
  auto made = ctx.ota->create_job(pk, spec);
  if (made.job_id.empty())
    return error_response(static_cast<http::status>(made.status), made.message);
  return json_response(http::status::created,
                       json::object{{"jobId", made.job_id}, {"devices", made.devices}});
}

response list_jobs(context& ctx, const call& c) {
  const auto& pk = c.params[0];
  if (auto p = no_ota(ctx, pk))
    return error_response(*p);
  auto all = ctx.ota->store().jobs(pk);
  if (!all)
    return error_response(store_problem(all.error(), "jobs"));
  json::array out;
  for (const auto& j : *all) {
    auto o = job_json(j);
    if (auto n = ctx.ota->store().counts(j.id))
      o["counts"] = counts_json(*n);
    out.push_back(std::move(o));
  }
  return json_response(http::status::ok, json::object{{"jobs", std::move(out)}});
}

response get_job(context& ctx, const call& c) {
  const auto &pk = c.params[0], &id = c.params[1];
  if (auto p = no_ota(ctx, pk))
    return error_response(*p);
  auto j = ctx.ota->store().job(pk, id);
  if (!j)
    return error_response(store_problem(j.error(), "job " + id));
  auto n = ctx.ota->store().counts(id);
  if (!n)
    return error_response(store_problem(n.error(), "job " + id));
  // Every device, in pages of the store (a job has at most 100,000).
  json::array devices;
  for (std::string after;;) {
    auto page = ctx.ota->store().devices(id, after, 1000);
    if (!page)
      return error_response(store_problem(page.error(), "job " + id));
    for (const auto& d : *page) {
      json::object o{{"deviceName", d.device_name},
                     {"state", to_string(d.state)},
                     {"progress", d.progress},
                     {"attempts", d.attempts}};
      if (d.sent)
        o["sentAt"] = millis(*d.sent); // the last upgrade message
      devices.push_back(std::move(o));
    }
    if (page->size() < 1000)
      break;
    after = page->back().device_name;
  }
  auto o = job_json(*j);
  o["counts"] = counts_json(*n);
  o["devices"] = std::move(devices);
  return json_response(http::status::ok, o);
}

response cancel_job(context& ctx, const call& c) {
  const auto &pk = c.params[0], &id = c.params[1];
  if (auto p = no_ota(ctx, pk))
    return error_response(*p);
  if (auto j = ctx.ota->store().job(pk, id); !j)
    return error_response(store_problem(j.error(), "job " + id));
  auto r = ctx.ota->cancel_job(pk, id);
  if (!r)
    return error_response(store_problem(r.error(), "job " + id));
  if (!*r)
    return error_response(http::status::conflict, "job " + id + " is not running");
  return json_response(http::status::ok, json::object{{"jobId", id}, {"state", "canceled"}});
}

} // namespace

void add_ota_job_routes(router& r, context& ctx) {
  r.add(http::verb::get, "/api/v1/products/{pk}/firmwares",
        bind(ctx, list_firmwares, path_ids::product));
  r.add(http::verb::get, "/api/v1/products/{pk}/firmwares/{id}",
        bind(ctx, get_firmware, path_ids::product));
  r.add(http::verb::delete_, "/api/v1/products/{pk}/firmwares/{id}",
        bind(ctx, delete_firmware, path_ids::product));
  r.add(http::verb::post, "/api/v1/products/{pk}/ota/jobs",
        bind(ctx, create_job, path_ids::product));
  r.add(http::verb::get, "/api/v1/products/{pk}/ota/jobs", bind(ctx, list_jobs, path_ids::product));
  r.add(http::verb::get, "/api/v1/products/{pk}/ota/jobs/{id}",
        bind(ctx, get_job, path_ids::product));
  r.add(http::verb::post, "/api/v1/products/{pk}/ota/jobs/{id}/cancel",
        bind(ctx, cancel_job, path_ids::product));
}

} // namespace thingport::api
