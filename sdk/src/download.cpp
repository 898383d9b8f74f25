// download_file() (ota.hpp): HTTP(S) GET of a firmware or configuration file, resumed with
// Range where the file on disk ends, then its size and digests checked.
#include <fstream>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "file_blocks.hpp"
#include "thingport/device/error.hpp"
#include "thingport/device/ota.hpp"
#include "transport.hpp"

namespace thingport::device {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;

namespace {

constexpr auto token = asio::as_tuple(asio::use_awaitable);

struct http_url {
  bool tls = false;
  std::string host, port, authority, target;
};

// http:// or https:// with a host (a name, IPv4 or [IPv6]) and an optional port 1..65535;
// nullopt for anything else (no user info: a download link carries its own signature).
std::optional<http_url> parse_http_url(std::string_view text) {
  auto u = boost::urls::parse_uri(text);
  if (!u || !u->has_authority() || u->has_userinfo())
    return std::nullopt;
  http_url out;
  if (u->scheme_id() == boost::urls::scheme::https)
    out.tls = true;
  else if (u->scheme_id() != boost::urls::scheme::http)
    return std::nullopt;
  switch (u->host_type()) {
  case boost::urls::host_type::name:
    out.host = u->host();
    break;
  case boost::urls::host_type::ipv4:
  case boost::urls::host_type::ipv6:
    out.host = u->host_address(); // an IPv6 address without its brackets
    break;
  default: // none, IPvFuture
    return std::nullopt;
  }
  if (out.host.empty() || out.host.find('\0') != std::string::npos)
    return std::nullopt;
  if (u->has_port()) {
    if (u->port().empty() || u->port_number() == 0 || u->port().size() > 5)
      return std::nullopt;
    out.port = std::string(u->port());
  } else {
    out.port = out.tls ? "443" : "80";
  }
  out.authority = std::string(u->encoded_host_and_port());
  out.target = u->encoded_path().empty() ? "/" : std::string(u->encoded_path());
  if (u->has_query())
    out.target += "?" + std::string(u->encoded_query());
  return out;
}

struct attempt_result {
  boost::system::error_code ec;
  unsigned status = 0;
  bool complete = false; // the server says the file is whole (416 at its size, or all read)
};

// One GET from `have` on: appends (206) or rewrites (200) the file.
template <class Stream>
asio::awaitable<attempt_result> fetch(Stream& s, beast::tcp_stream& low, const http_url& u,
                                      const download_request& r, std::uint64_t have) {
  attempt_result out;
  http::request<http::empty_body> req{http::verb::get, u.target, 11};
  req.set(http::field::host, u.authority);
  req.set(http::field::user_agent, "thingport-device");
  if (have > 0)
    req.set(http::field::range, "bytes=" + std::to_string(have) + "-");
  low.expires_after(r.timeout);
  auto [wec, wn] = co_await http::async_write(s, req, token);
  if (wec) {
    out.ec = wec;
    co_return out;
  }
  beast::flat_buffer buf;
  http::response_parser<http::buffer_body> p;
  p.body_limit(boost::none);
  auto [hec, hn] = co_await http::async_read_header(s, buf, p, token);
  if (hec) {
    out.ec = hec;
    co_return out;
  }
  out.status = p.get().result_int();
  if (out.status == 416) { // nothing past `have`: the file is whole (the digests will tell)
    out.complete = true;
    co_return out;
  }
  if (out.status != 200 && out.status != 206)
    co_return out;
  std::ofstream file(r.file, out.status == 206 ? std::ios::binary | std::ios::app
                                               : std::ios::binary | std::ios::trunc);
  std::uint64_t got = 0, total = have;
  if (out.status == 200)
    total = 0;
  std::vector<char> chunk(64 * 1024);
  while (!p.is_done()) {
    p.get().body().data = chunk.data();
    p.get().body().size = chunk.size();
    low.expires_after(r.timeout);
    auto [ec, n] = co_await http::async_read(s, buf, p, token);
    if (ec == http::error::need_buffer)
      ec = {};
    if (ec) {
      out.ec = ec;
      co_return out;
    }
    auto piece = chunk.size() - p.get().body().size;
    if (r.cut_after > 0 && got + piece > r.cut_after)
      piece = static_cast<std::size_t>(r.cut_after - got);
    // Never past the expected size, whatever the server sends: the disk stays bounded, and
    // the size and digest checks decide on what was kept.
    const bool past = r.size > 0 && total + piece > r.size;
    if (past)
      piece = static_cast<std::size_t>(r.size - std::min(total, r.size));
    file.write(chunk.data(), static_cast<std::streamsize>(piece));
    if (!file) {
      out.ec = boost::system::errc::make_error_code(boost::system::errc::no_space_on_device);
      co_return out;
    }
    got += piece;
    total += piece;
    if (r.progress)
      r.progress(total, r.size);
    if (past) {
      out.complete = true;
      co_return out;
    }
    if (r.cut_after > 0 && got >= r.cut_after) {
      out.ec = asio::error::connection_aborted; // cut on purpose: the next attempt resumes
      co_return out;
    }
  }
  out.complete = true;
  co_return out;
}

} // namespace

std::pair<std::string, std::string> detail::file_digests(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  EVP_MD_CTX* md5 = EVP_MD_CTX_new();
  EVP_MD_CTX* sha = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md5, EVP_md5(), nullptr);
  EVP_DigestInit_ex(sha, EVP_sha256(), nullptr);
  std::vector<char> buf(64 * 1024);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<std::size_t>(in.gcount());
    EVP_DigestUpdate(md5, buf.data(), n);
    EVP_DigestUpdate(sha, buf.data(), n);
  }
  auto hex_of = [](EVP_MD_CTX* ctx) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_DigestFinal_ex(ctx, md, &n);
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < n; ++i) {
      out += digits[md[i] >> 4];
      out += digits[md[i] & 15];
    }
    EVP_MD_CTX_free(ctx);
    return out;
  };
  auto m = hex_of(md5);
  auto s = hex_of(sha);
  return {m, s};
}

download_result download_file(const download_request& r) {
  download_result out;
  auto u = parse_http_url(r.url);
  if (!u || r.file.empty()) {
    out.error = make_error_code(errc::invalid_argument);
    return out;
  }
  std::shared_ptr<asio::ssl::context> ctx;
  if (u->tls) {
    try {
      ctx = detail::make_tls_context(r.ca_file, true);
    } catch (const std::exception&) {
      out.error = make_error_code(errc::invalid_argument);
      return out;
    }
  }
  bool complete = false;
  for (unsigned attempt = 0; attempt < std::max(1u, r.attempts) && !complete; ++attempt) {
    std::error_code fec;
    const std::uint64_t have = fs::exists(r.file, fec) ? fs::file_size(r.file, fec) : 0;
    if (r.size > 0 && have >= r.size) {
      complete = true;
      break;
    }
    if (attempt == 0)
      out.first_start = have;
    out.last_start = have;
    ++out.attempts;
    asio::io_context io;
    attempt_result res;
    auto run = [&]() -> asio::awaitable<void> {
      asio::ip::tcp::resolver resolver(io);
      auto [rec, endpoints] = co_await resolver.async_resolve(u->host, u->port, token);
      if (rec) {
        res.ec = rec;
        co_return;
      }
      if (u->tls) {
        beast::ssl_stream<beast::tcp_stream> s(io, *ctx);
        auto& low = beast::get_lowest_layer(s);
        low.expires_after(r.timeout);
        auto [cec, ep] = co_await low.async_connect(endpoints, token);
        if (cec) {
          res.ec = cec;
          co_return;
        }
        SSL_set_tlsext_host_name(s.native_handle(), u->host.c_str());
        X509_VERIFY_PARAM_set1_host(SSL_get0_param(s.native_handle()), u->host.c_str(), 0);
        auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::client, token);
        if (hec) {
          res.ec = hec;
          co_return;
        }
        res = co_await fetch(s, low, *u, r, have);
      } else {
        beast::tcp_stream s(io);
        s.expires_after(r.timeout);
        auto [cec, ep] = co_await s.async_connect(endpoints, token);
        if (cec) {
          res.ec = cec;
          co_return;
        }
        res = co_await fetch(s, s, *u, r, have);
      }
    };
    asio::co_spawn(io, run, asio::detached);
    io.run();
    if (res.status != 0 && res.status != 200 && res.status != 206 && res.status != 416) {
      out.error = make_error_code(errc::http_status);
      return out;
    }
    complete = res.complete;
  }
  std::error_code fec;
  out.bytes = fs::exists(r.file, fec) ? fs::file_size(r.file, fec) : 0;
  if (!complete) {
    out.error = make_error_code(errc::connection_closed);
    return out;
  }
  const auto [md5, sha256] = detail::file_digests(r.file);
  if ((r.size > 0 && out.bytes != r.size) || (!r.md5.empty() && r.md5 != md5) ||
      (!r.sha256.empty() && r.sha256 != sha256))
    out.error = make_error_code(errc::digest_mismatch);
  return out;
}

} // namespace thingport::device
