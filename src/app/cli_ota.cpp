#include "app/cli_ota.hpp"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json.hpp>

#include "app/cli_http.hpp"

namespace thingport::app {

namespace http = boost::beast::http;
namespace json = boost::json;
namespace asio = boost::asio;

namespace {

// A query value or path segment, percent-encoded.
std::string encode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      constexpr char hex[] = "0123456789ABCDEF";
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

json::array list_of(const std::string& commas) {
  json::array out;
  std::string_view s = commas;
  while (!s.empty()) {
    const auto comma = s.find(',');
    if (comma != 0)
      out.emplace_back(s.substr(0, comma));
    if (comma == std::string_view::npos)
      break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

// Sends `file` as the body of POST `path`, a piece at a time, with a progress line on stderr.
api_reply upload_file(const api_endpoint& ep, const std::string& path, const std::string& token,
                      const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    throw std::runtime_error("cannot read " + file.string());
  const auto size = std::filesystem::file_size(file);
  asio::io_context io;
  asio::ip::tcp::socket sock(io);
  try {
    asio::ip::tcp::resolver resolver(io);
    asio::connect(sock, resolver.resolve(ep.host, ep.port));
    const std::string head =
        "POST " + ep.base + path + " HTTP/1.1\r\nHost: " + ep.host + "\r\nAuthorization: Bearer " +
        token +
        "\r\nContent-Type: application/octet-stream\r\nContent-Length: " + std::to_string(size) +
        "\r\nConnection: close\r\n\r\n";
    asio::write(sock, asio::buffer(head));
    std::vector<char> buf(256 * 1024);
    std::uint64_t sent = 0;
    int shown = -1;
    while (sent < size) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      const auto n = static_cast<std::size_t>(in.gcount());
      if (n == 0)
        throw std::runtime_error("short read of " + file.string());
      boost::system::error_code ec;
      asio::write(sock, asio::buffer(buf.data(), n), ec);
      if (ec)
        break; // refused early (413): read the answer
      sent += n;
      const int pct = static_cast<int>(100 * sent / (size == 0 ? 1 : size));
      if (pct != shown) {
        std::fprintf(stderr, "\rupload: %3d%% (%llu of %llu bytes)", pct,
                     static_cast<unsigned long long>(sent), static_cast<unsigned long long>(size));
        shown = pct;
      }
    }
    std::fprintf(stderr, "\n");
    boost::beast::flat_buffer b;
    http::response_parser<http::string_body> p;
    p.body_limit(1024 * 1024);
    http::read(sock, b, p);
    return {p.get().result_int(), p.get().body()};
  } catch (const boost::system::system_error& e) {
    throw api_unreachable(std::string("upload: ") + e.what());
  }
}

// `--at`: "YYYY-MM-DDTHH:MM[:SS]Z" (UTC) or milliseconds since the epoch; nullopt otherwise.
std::optional<std::int64_t> parse_at(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos && s.size() <= 15)
    return std::stoll(s);
  std::tm tm{};
  int sec = 0, used = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &used) != 5)
    return std::nullopt;
  std::string_view rest = std::string_view(s).substr(static_cast<std::size_t>(used));
  if (rest.size() == 4 && rest[0] == ':' && rest[3] == 'Z' && std::isdigit(rest[1]) != 0 &&
      std::isdigit(rest[2]) != 0)
    sec = (rest[1] - '0') * 10 + (rest[2] - '0');
  else if (rest != "Z")
    return std::nullopt;
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || sec > 59)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  tm.tm_sec = sec;
  return std::int64_t{timegm(&tm)} * 1000;
}

// One line on stderr for a job: a bar of its finished devices, the counts, its state.
void show_job(const json::object& job) {
  const auto count = [&](const char* k) -> std::uint64_t {
    const auto* c = job.if_contains("counts");
    const auto* v = c != nullptr && c->is_object() ? c->as_object().if_contains(k) : nullptr;
    return v != nullptr && v->is_int64() ? static_cast<std::uint64_t>(v->as_int64()) : 0;
  };
  const auto waiting = count("waiting"), running = count("inProgress"), ok = count("succeeded"),
             failed = count("failed"), canceled = count("canceled");
  const auto total = waiting + running + ok + failed + canceled;
  const auto finished = ok + failed + canceled;
  const int pct = static_cast<int>(total == 0 ? 100 : 100 * finished / total);
  constexpr int width = 30;
  std::string bar(static_cast<std::size_t>(pct * width / 100), '#');
  bar.resize(width, '.');
  const auto* st = job.if_contains("state");
  std::fprintf(stderr,
               "\rjob: [%s] %3d%% %llu/%llu (succeeded %llu, failed %llu, inProgress %llu, "
               "waiting %llu) %s  ",
               bar.c_str(), pct, static_cast<unsigned long long>(finished),
               static_cast<unsigned long long>(total), static_cast<unsigned long long>(ok),
               static_cast<unsigned long long>(failed), static_cast<unsigned long long>(running),
               static_cast<unsigned long long>(waiting),
               st != nullptr && st->is_string() ? st->as_string().c_str() : "");
}

// `ota status --watch`: the job's bar each second until it is no longer running or
// scheduled (or `limit` seconds passed, 0: no limit); then its document on stdout.
int watch_job(const api_endpoint& ep, const std::string& tok, const std::string& path,
              unsigned limit) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(limit);
  for (;;) {
    api_reply r;
    try {
      r = call_api(ep, http::verb::get, path, tok);
    } catch (const api_unreachable& e) {
      std::fprintf(stderr, "\nthingport: %s\n", e.what());
      return 2;
    }
    if (r.status != 200)
      return print_reply(r);
    boost::system::error_code ec;
    auto doc = json::parse(r.body, ec);
    if (ec || !doc.is_object())
      return print_reply(r);
    show_job(doc.as_object());
    const auto* st = doc.as_object().if_contains("state");
    const bool open = st != nullptr && st->is_string() &&
                      (st->as_string() == "running" || st->as_string() == "scheduled");
    if (!open || (limit > 0 && std::chrono::steady_clock::now() >= until)) {
      std::fprintf(stderr, "\n");
      return print_reply(r);
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

} // namespace

struct ota_commands::state {
  std::string api_url = std::string(default_api_url);
  std::string token, data_dir = "./data";
  std::string pk, id, file, version, module, src_versions, devices, from_versions, at;
  unsigned rate = 0, retries = 0, timeout = 0, watch_limit = 0;
  bool watch = false;
  std::vector<std::pair<CLI::App*, std::function<int()>>> cmds;

  void connection(CLI::App* c) {
    c->add_option("--api", api_url, "API base URL")->envname("THINGPORT_API");
    c->add_option("--token", token, "admin token")->envname("THINGPORT_TOKEN");
    c->add_option("--data", data_dir, "data directory holding admin.token");
  }
  // The endpoint and token, or an exit code.
  std::optional<int> prepare(api_endpoint& ep, std::string& tok) const {
    return resolve_api(api_url, token, data_dir, ep, tok);
  }
  int call(http::verb method, const std::string& path, std::string body = {}) const {
    return run_api_call(api_url, token, data_dir, method, path, std::move(body));
  }
  std::string product() const { return "/api/v1/products/" + encode(pk); }
};

ota_commands::ota_commands(CLI::App& app) : s_(std::make_unique<state>()) {
  auto& s = *s_;
  auto* ota = app.add_subcommand("ota", "OTA firmware upgrades (through the HTTP API)");

  auto* up = ota->add_subcommand("upload", "upload a firmware file");
  up->add_option("PRODUCTKEY", s.pk)->required();
  up->add_option("FILE", s.file)->required()->check(CLI::ExistingFile);
  up->add_option("--version", s.version, "the firmware's version")->required();
  up->add_option("--module", s.module, "module (default: default)");
  up->add_option("--src-versions", s.src_versions, "versions it upgrades from: a,b");
  s.connection(up);
  s.cmds.emplace_back(up, [&s] {
    api_endpoint ep;
    std::string tok;
    if (auto rc = s.prepare(ep, tok))
      return *rc;
    std::string path = s.product() + "/firmwares?version=" + encode(s.version);
    if (!s.module.empty())
      path += "&module=" + encode(s.module);
    if (!s.src_versions.empty())
      path += "&srcVersions=" + encode(s.src_versions);
    try {
      return print_reply(upload_file(ep, path, tok, s.file));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "thingport: %s\n", e.what());
      return 2;
    }
  });

  auto* fws = ota->add_subcommand("firmwares", "list a product's firmware");
  fws->add_option("PRODUCTKEY", s.pk)->required();
  s.connection(fws);
  s.cmds.emplace_back(fws, [&s] { return s.call(http::verb::get, s.product() + "/firmwares"); });

  auto* start = ota->add_subcommand("start", "start an upgrade job");
  start->add_option("PRODUCTKEY", s.pk)->required();
  start->add_option("FIRMWAREID", s.id)->required();
  start->add_option("--devices", s.devices, "a,b (default: every device of the product)");
  start->add_option("--from-versions", s.from_versions, "only devices reporting one of a,b");
  start->add_option("--rate", s.rate, "messages per minute (default 1000)");
  start->add_option("--retries", s.retries, "retries of a failed device (default 0)");
  start->add_option("--timeout", s.timeout, "minutes in progress before it counts as failed");
  start->add_option("--at", s.at,
                    "when it starts: YYYY-MM-DDTHH:MM[:SS]Z (UTC) or ms since the epoch "
                    "(default: now)");
  s.connection(start);
  s.cmds.emplace_back(start, [&s] {
    json::object o{{"firmwareId", s.id}};
    if (!s.at.empty()) {
      const auto at = parse_at(s.at);
      if (!at) {
        std::fprintf(stderr, "thingport: --at: YYYY-MM-DDTHH:MM[:SS]Z or milliseconds since "
                             "the epoch\n");
        return 2;
      }
      o["scheduleTime"] = *at;
    }
    if (!s.devices.empty())
      o["devices"] = list_of(s.devices);
    if (!s.from_versions.empty())
      o["fromVersions"] = list_of(s.from_versions);
    if (s.rate > 0)
      o["ratePerMinute"] = s.rate;
    if (s.retries > 0)
      o["retries"] = s.retries;
    if (s.timeout > 0)
      o["timeoutMinutes"] = s.timeout;
    return s.call(http::verb::post, s.product() + "/ota/jobs", json::serialize(o));
  });

  auto* jobs = ota->add_subcommand("jobs", "list a product's upgrade jobs");
  jobs->add_option("PRODUCTKEY", s.pk)->required();
  s.connection(jobs);
  s.cmds.emplace_back(jobs, [&s] { return s.call(http::verb::get, s.product() + "/ota/jobs"); });

  auto* status = ota->add_subcommand("status", "show a job, its counts and devices");
  status->add_option("PRODUCTKEY", s.pk)->required();
  status->add_option("JOBID", s.id)->required();
  status->add_flag("--watch", s.watch,
                   "a progress bar on stderr each second until the job ends, then the job");
  status->add_option("--watch-limit", s.watch_limit, "stop watching after this many seconds");
  s.connection(status);
  s.cmds.emplace_back(status, [&s] {
    const auto path = s.product() + "/ota/jobs/" + encode(s.id);
    if (!s.watch)
      return s.call(http::verb::get, path);
    api_endpoint ep;
    std::string tok;
    if (auto rc = s.prepare(ep, tok))
      return *rc;
    return watch_job(ep, tok, path, s.watch_limit);
  });

  auto* cancel = ota->add_subcommand("cancel", "cancel a running job");
  cancel->add_option("PRODUCTKEY", s.pk)->required();
  cancel->add_option("JOBID", s.id)->required();
  s.connection(cancel);
  s.cmds.emplace_back(cancel, [&s] {
    return s.call(http::verb::post, s.product() + "/ota/jobs/" + encode(s.id) + "/cancel");
  });
  ota->require_subcommand(1);
}

ota_commands::~ota_commands() = default;

std::optional<int> ota_commands::run() {
  for (auto& [cmd, f] : s_->cmds)
    if (cmd->parsed())
      return f();
  return std::nullopt;
}

} // namespace thingport::app
