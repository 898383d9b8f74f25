#include "platform/ota_message.hpp"

#include <charconv>
#include <system_error>

#include <boost/json.hpp>

namespace thingport::platform {

namespace json = boost::json;

namespace {

json::object data_of(const upgrade_info& u) {
  json::object o{{"size", u.size},    {"sign", u.sha256},       {"version", u.version},
                 {"isDiff", 0},       {"signMethod", "SHA256"}, {"md5", u.md5},
                 {"module", u.module}};
  if (u.stream_id != 0) {
    o["dProtocol"] = "mqtt";
    o["streamId"] = u.stream_id;
    o["streamFileId"] = 1;
  } else {
    o["url"] = u.url;
  }
  return o;
}

} // namespace

std::optional<json::object> parse_device_object(std::string_view payload) {
  if (payload.size() > 64 * 1024)
    return std::nullopt;
  std::error_code ec;
  json::value v = json::parse(payload, ec);
  if (ec || !v.is_object())
    return std::nullopt;
  return std::move(v.as_object());
}

bool valid_firmware_version(std::string_view v) noexcept {
  return !v.empty() && v.size() <= 64 && v.find('\0') == std::string_view::npos;
}

bool valid_module_name(std::string_view m) noexcept {
  if (m.empty() || m.size() > 64)
    return false;
  for (char c : m)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-'))
      return false;
  return true;
}

std::string upgrade_message(const upgrade_info& u, std::uint64_t id) {
  return json::serialize(
      json::object{{"code", "1000"}, {"data", data_of(u)}, {"id", id}, {"message", "success"}});
}

std::string firmware_get_reply(const std::optional<upgrade_info>& u, std::string_view id_json) {
  std::error_code ec;
  json::value id = json::parse(id_json, ec);
  if (ec)
    id = "0";
  return json::serialize(json::object{{"code", 200},
                                      {"data", u ? data_of(*u) : json::object{}},
                                      {"id", std::move(id)},
                                      {"message", "success"},
                                      {"version", "1.0"}});
}

std::optional<progress_report> parse_progress(std::string_view payload) {
  auto o = parse_device_object(payload);
  if (!o)
    return std::nullopt;
  const auto* params = o->if_contains("params");
  if (params == nullptr || !params->is_object())
    return std::nullopt;
  const auto& p = params->as_object();
  const auto* step = p.if_contains("step");
  if (step == nullptr)
    return std::nullopt;
  std::int64_t n = 0;
  if (step->is_int64()) {
    n = step->as_int64();
  } else if (step->is_uint64()) {
    n = step->as_uint64() > 100 ? 101 : static_cast<std::int64_t>(step->as_uint64());
  } else if (step->is_string()) {
    const auto& s = step->as_string();
    auto [end, err] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (err != std::errc{} || end != s.data() + s.size())
      return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (n < -1000 || n > 100)
    return std::nullopt;
  progress_report r;
  r.step = static_cast<int>(n);
  if (const auto* m = p.if_contains("module"); m != nullptr && m->is_string())
    r.module = std::string(m->as_string());
  if (const auto* d = p.if_contains("desc"); d != nullptr && d->is_string())
    r.desc =
        std::string(d->as_string().subview(0, std::min<std::size_t>(d->as_string().size(), 256)));
  return r;
}

std::optional<firmware_request> parse_firmware_request(std::string_view payload) {
  firmware_request r;
  r.module = "default";
  auto o = parse_device_object(payload);
  if (!o)
    return std::nullopt;
  if (const auto* id = o->if_contains("id"); id != nullptr && (id->is_string() || id->is_number()))
    r.id_json = json::serialize(*id);
  if (const auto* params = o->if_contains("params"); params != nullptr && params->is_object())
    if (const auto* m = params->as_object().if_contains("module");
        m != nullptr && m->is_string() && !m->as_string().empty())
      r.module = std::string(m->as_string());
  return r;
}

} // namespace thingport::platform
