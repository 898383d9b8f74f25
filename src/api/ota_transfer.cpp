#include "api/ota_transfer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "api/ota_range.hpp"
#include "platform/ota_service.hpp"

namespace thingport::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace json = boost::json;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t chunk = 64 * 1024;

namespace {

asio::thread_pool& store_writes() {
  static asio::thread_pool pool(1);
  return pool;
}

// Writes `res` and, when it closes the connection with a body unread, reads a bounded amount of
// what the client still sends so that it sees the answer rather than a reset.
asio::awaitable<bool> answer(beast::tcp_stream& stream, response res, unsigned version,
                             bool keep_alive, stream_timeouts to) {
  res.version(version);
  res.keep_alive(keep_alive);
  stream.expires_after(to.idle_write);
  auto [ec, n] = co_await http::async_write(stream, res, tuple_awaitable);
  if (ec)
    co_return false;
  if (!keep_alive) {
    boost::system::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    // As the server's own refusals (server.cpp): up to 64 MiB for up to 5 s.
    stream.expires_after(std::chrono::seconds(5));
    std::array<char, 16 * 1024> sink;
    for (std::size_t total = 0; total < 64 * 1024 * 1024;) {
      auto [rec, rn] = co_await stream.async_read_some(asio::buffer(sink), tuple_awaitable);
      if (rec)
        break;
      total += rn;
    }
  }
  co_return keep_alive;
}

std::vector<std::string> split_commas(std::string_view s) {
  std::vector<std::string> out;
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

// 201 with the stored firmware (outside the coroutine: GCC mishandles an initializer list's
// array across a co_await).
response created(const store::firmware_record& rec, const std::vector<std::string>& src) {
  return json_response(http::status::created, json::object{{"firmwareId", rec.id},
                                                           {"productKey", rec.product_key},
                                                           {"version", rec.version},
                                                           {"module", rec.module},
                                                           {"size", rec.size},
                                                           {"md5", rec.md5},
                                                           {"sha256", rec.sha256},
                                                           {"srcVersions", json::value_from(src)}});
}

std::unique_ptr<platform::firmware_upload> begin_upload(context& ctx) {
  try {
    return ctx.ota->files().begin();
  } catch (const std::exception& e) {
    spdlog::error("ota upload: {}", e.what());
    return nullptr;
  }
}

asio::awaitable<bool> upload(context& ctx, beast::tcp_stream& stream, beast::flat_buffer& buffer,
                             http::request_parser<http::string_body>& header, const target& t,
                             stream_timeouts to) {
  const unsigned version = header.get().version();
  const auto refuse = [&](http::status s, std::string message) {
    return answer(stream, error_response(s, std::move(message)), version, false, to);
  };
  if (ctx.ota == nullptr)
    co_return co_await refuse(http::status::service_unavailable, "OTA is not running");
  const std::string pk = t.segments[3];
  if (ctx.dir.permissions(pk) == nullptr)
    co_return co_await refuse(http::status::not_found, "product " + pk + " not found");
  const auto fw_version = form_value(t.query, "version");
  if (!fw_version || !platform::valid_firmware_version(*fw_version))
    co_return co_await refuse(http::status::bad_request, "version: 1 to 64 bytes, required");
  const std::string module(form_value(t.query, "module").value_or("default"));
  if (!platform::valid_module_name(module))
    co_return co_await refuse(http::status::bad_request, "module: 1 to 64 of [A-Za-z0-9_-]");
  const auto src = split_commas(form_value(t.query, "srcVersions").value_or(""));
  if (src.size() > 100)
    co_return co_await refuse(http::status::bad_request, "srcVersions: at most 100");
  for (const auto& v : src)
    if (!platform::valid_firmware_version(v) || v.find(',') != std::string::npos)
      co_return co_await refuse(http::status::bad_request, "srcVersions: bad version " + v);
  const std::uint64_t limit = ctx.ota->options().max_firmware;
  if (header.content_length() && *header.content_length() > limit) {
    ++ctx.http->refused_too_large;
    co_return co_await refuse(http::status::payload_too_large,
                              "firmware over " + std::to_string(limit) + " bytes");
  }
  if (beast::iequals(header.get()[http::field::expect], "100-continue")) {
    http::response<http::empty_body> cont{http::status::continue_, 11};
    auto [cec, cn] = co_await http::async_write(stream, cont, tuple_awaitable);
    if (cec)
      co_return false;
  }
  auto file = begin_upload(ctx);
  if (!file)
    co_return co_await refuse(http::status::internal_server_error, "cannot store the firmware");
  http::request_parser<http::buffer_body> p(std::move(header));
  p.body_limit(limit);
  auto buf = std::make_unique<std::array<char, chunk>>();
  while (!p.is_done()) {
    p.get().body().data = buf->data();
    p.get().body().size = buf->size();
    stream.expires_after(to.idle_read);
    auto [ec, n] = co_await http::async_read(stream, buffer, p, tuple_awaitable);
    if (ec == http::error::need_buffer)
      ec = {};
    if (ec == http::error::body_limit) {
      ++ctx.http->refused_too_large;
      co_return co_await refuse(http::status::payload_too_large,
                                "firmware over " + std::to_string(limit) + " bytes");
    }
    if (ec)
      co_return false; // the client went away or sent garbage: the upload goes with `file`
    const std::size_t got = buf->size() - p.get().body().size;
    if (got > 0 && !file->write(buf->data(), got))
      co_return co_await refuse(http::status::insufficient_storage, "cannot write the firmware");
  }
  if (!file->finish())
    co_return co_await refuse(http::status::insufficient_storage, "cannot write the firmware");
  store::firmware_record rec{.id = platform::new_firmware_id(),
                             .product_key = pk,
                             .version = std::string(*fw_version),
                             .module = module,
                             .size = file->size(),
                             .md5 = file->md5(),
                             .sha256 = file->sha256(),
                             .src_versions =
                                 std::string(form_value(t.query, "srcVersions").value_or("")),
                             .created = store::now()};
  if (!file->commit(ctx.ota->files().path_of(rec.id)))
    co_return co_await refuse(http::status::internal_server_error, "cannot store the firmware");
  // The bytes for the other nodes of a cluster (in the store) before the row that lists it:
  // seconds for a big file, on a thread of their own (this one serves every HTTP request).
  auto r = co_await asio::co_spawn(
      store_writes(),
      [&]() -> asio::awaitable<store::result<void>> { co_return ctx.ota->share_firmware(rec.id); },
      asio::use_awaitable);
  if (r)
    r = ctx.ota->store().add_firmware(rec);
  if (!r) {
    ctx.ota->forget_firmware(rec.id);
    co_return co_await refuse(http::status::internal_server_error, "store: " + r.error().message());
  }
  spdlog::info("ota: firmware {} of {} ({} {}, {} bytes) stored", rec.id, pk, rec.module,
               rec.version, rec.size);
  const bool keep = p.get().keep_alive();
  auto res = created(rec, src);
  co_return co_await answer(stream, std::move(res), version, keep, to);
}

struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
};

asio::awaitable<bool> download(context& ctx, beast::tcp_stream& stream,
                               const http::request_parser<http::string_body>& parser,
                               const target& t, stream_timeouts to) {
  const auto& req = parser.get();
  const unsigned version = req.version();
  const bool keep = req.keep_alive();
  const auto refuse = [&](http::status s, std::string message) {
    return answer(stream, error_response(s, std::move(message)), version, keep, to);
  };
  if (ctx.ota == nullptr)
    co_return co_await refuse(http::status::service_unavailable, "OTA is not running");
  const std::string& id = t.segments[2];
  const auto pk = form_value(t.query, "productKey").value_or("");
  const auto dn = form_value(t.query, "deviceName").value_or("");
  const auto expires_text = form_value(t.query, "expires").value_or("");
  const auto sign = form_value(t.query, "sign").value_or("");
  std::int64_t expires = 0;
  auto [end, err] =
      std::from_chars(expires_text.data(), expires_text.data() + expires_text.size(), expires);
  if (!platform::valid_firmware_id(id) || err != std::errc{} ||
      end != expires_text.data() + expires_text.size() || expires_text.empty())
    co_return co_await refuse(http::status::forbidden, "not a valid download link");
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  // A configuration (/ota/config/{id}) or a firmware (/ota/firmware/{id}).
  const bool config = t.segments[1] == "config";
  if (config && ctx.ota->config() == nullptr)
    co_return co_await refuse(http::status::service_unavailable,
                              "remote configuration is not running");
  const std::string signed_id =
      config ? std::string(platform::config_sign_scope) + id : std::string(id);
  switch (ctx.ota->signer().check(signed_id, pk, dn, expires, sign, now)) {
  case platform::link_check::forged:
    co_return co_await refuse(http::status::forbidden, "not a valid download link");
  case platform::link_check::expired:
    co_return co_await refuse(http::status::forbidden, "the download link has expired");
  case platform::link_check::ok:
    break;
  }
  std::string sha256, file;
  std::uint64_t recorded_size = 0;
  if (config) {
    auto c = ctx.ota->config()->find(pk, id);
    if (!c)
      co_return co_await refuse(http::status::not_found, "configuration " + id + " not found");
    sha256 = c->sha256;
    const auto path = ctx.ota->config()->file_of(pk, id); // from the store (a cluster) if need be
    file = path ? path->string() : std::string();
  } else {
    auto fw = ctx.ota->store().firmware(pk, id);
    if (!fw)
      co_return co_await refuse(http::status::not_found, "firmware " + id + " not found");
    sha256 = fw->sha256;
    file = ctx.ota->files().path_of(id).string();
    recorded_size = fw->size;
  }
  fd_guard f{::open(file.c_str(), O_RDONLY | O_CLOEXEC)};
  struct stat st {};
  // A firmware uploaded to another node of a cluster: its bytes come from the store.
  platform::chunk_cache stored;
  const bool from_store =
      f.fd < 0 && !config && ctx.ota->options().shared_files &&
      ctx.ota->stored_bytes(id, 0, recorded_size > 0 ? 1 : 0, stored).has_value();
  if (!from_store && (f.fd < 0 || ::fstat(f.fd, &st) != 0))
    co_return co_await refuse(http::status::not_found, "file " + id + " not found");
  const auto size = from_store ? recorded_size : static_cast<std::uint64_t>(st.st_size);
  http::response<http::buffer_body> res{http::status::ok, version};
  res.set(http::field::content_type, "application/octet-stream");
  res.set(http::field::accept_ranges, "bytes");
  res.set(http::field::etag, "\"" + sha256 + "\"");
  std::uint64_t first = 0, count = size;
  if (const auto range = req[http::field::range]; !range.empty()) {
    const auto r = parse_range(range, size);
    if (r.kind == range_kind::unsatisfiable) {
      auto e = error_response(http::status::range_not_satisfiable, "range outside the firmware");
      e.set(http::field::content_range, "bytes */" + std::to_string(size));
      co_return co_await answer(stream, std::move(e), version, keep, to);
    }
    if (r.kind == range_kind::partial) {
      res.result(http::status::partial_content);
      first = r.range.first;
      count = r.range.last - r.range.first + 1;
      res.set(http::field::content_range, "bytes " + std::to_string(r.range.first) + "-" +
                                              std::to_string(r.range.last) + "/" +
                                              std::to_string(size));
    }
  }
  res.content_length(count);
  res.keep_alive(keep);
  const bool head = req.method() == http::verb::head;
  res.body().data = nullptr;
  res.body().size = 0;
  res.body().more = !head && count > 0;
  http::response_serializer<http::buffer_body> sr{res};
  if (head)
    sr.split(false);
  stream.expires_after(to.idle_write);
  auto [hec, hn] = co_await http::async_write_header(stream, sr, tuple_awaitable);
  if (hec)
    co_return false;
  if (head || count == 0) {
    if (!sr.is_done()) {
      auto [ec, n] = co_await http::async_write(stream, sr, tuple_awaitable);
      if (ec)
        co_return false;
    }
    co_return keep;
  }
  auto buf = std::make_unique<std::array<char, chunk>>();
  std::uint64_t offset = first, left = count;
  while (left > 0) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, buf->size()));
    ssize_t got = -1;
    if (!from_store) {
      got = ::pread(f.fd, buf->data(), want, static_cast<off_t>(offset));
    } else if (auto bytes = ctx.ota->stored_bytes(id, offset, want, stored)) {
      std::copy(bytes->begin(), bytes->end(), buf->begin());
      got = static_cast<ssize_t>(bytes->size());
    }
    if (got <= 0) {
      spdlog::error("ota download: read of firmware {} failed", id);
      co_return false; // the length promised cannot be kept: close
    }
    offset += static_cast<std::uint64_t>(got);
    left -= static_cast<std::uint64_t>(got);
    res.body().data = buf->data();
    res.body().size = static_cast<std::size_t>(got);
    res.body().more = left > 0;
    stream.expires_after(to.idle_write);
    auto [ec, n] = co_await http::async_write(stream, sr, tuple_awaitable);
    if (ec == http::error::need_buffer)
      ec = {};
    if (ec)
      co_return false;
    ctx.ota->count_download(static_cast<std::uint64_t>(got));
  }
  co_return keep;
}

} // namespace

ota_stream ota_stream_of(http::verb method, const target& t) noexcept {
  const auto& s = t.segments;
  if (method == http::verb::post && s.size() == 5 && s[0] == "api" && s[1] == "v1" &&
      s[2] == "products" && s[4] == "firmwares")
    return ota_stream::upload;
  if ((method == http::verb::get || method == http::verb::head) && s.size() == 3 && s[0] == "ota" &&
      (s[1] == "firmware" || s[1] == "config"))
    return ota_stream::download;
  return ota_stream::none;
}

asio::awaitable<bool> serve_ota_stream(context& ctx, ota_stream kind, beast::tcp_stream& stream,
                                       beast::flat_buffer& buffer,
                                       http::request_parser<http::string_body>& parser,
                                       const target& t, stream_timeouts to) {
  if (kind == ota_stream::upload)
    co_return co_await upload(ctx, stream, buffer, parser, t, to);
  // A download request has no body worth reading: read what there is (bounded).
  constexpr std::uint64_t max_body = 64 * 1024;
  if (parser.content_length() && *parser.content_length() > max_body) {
    ++ctx.http->refused_too_large;
    co_return co_await answer(stream,
                              error_response(http::status::payload_too_large, "body too large"),
                              parser.get().version(), false, to);
  }
  parser.body_limit(max_body);
  stream.expires_after(to.idle_read);
  auto [ec, n] = co_await http::async_read(stream, buffer, parser, tuple_awaitable);
  if (ec)
    co_return false;
  co_return co_await download(ctx, stream, parser, t, to);
}

} // namespace thingport::api
