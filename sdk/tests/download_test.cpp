// download_file against a hostile HTTP server on loopback: a body longer than the expected size
// is not kept past it (the disk stays bounded), and the size check decides on what was kept.
#include "thingport/device/ota.hpp"

#include <filesystem>
#include <string>
#include <thread>

#include <boost/asio.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include "thingport/device/error.hpp"

namespace thingport::device {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Answers one GET with 200 and `body_size` bytes of 'a', whatever the request asked.
class flooding_server {
public:
  explicit flooding_server(std::size_t body_size)
      : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this, body_size] {
      boost::system::error_code ec;
      tcp::socket s(io_);
      acceptor_.accept(s, ec);
      if (ec)
        return;
      asio::streambuf req;
      asio::read_until(s, req, "\r\n\r\n", ec);
      const std::string head =
          "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body_size) + "\r\n\r\n";
      asio::write(s, asio::buffer(head), ec);
      const std::string piece(64 * 1024, 'a');
      for (std::size_t sent = 0; !ec && sent < body_size; sent += piece.size())
        asio::write(s, asio::buffer(piece.data(), std::min(piece.size(), body_size - sent)), ec);
    });
  }
  ~flooding_server() { thread_.join(); }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }

private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

TEST(Download, NothingIsKeptPastTheExpectedSize) {
  flooding_server server(8 * 1024 * 1024);
  const auto file = std::filesystem::temp_directory_path() /
                    ("tp-download-" + std::to_string(::getpid()) + ".bin");
  std::filesystem::remove(file);
  download_request r;
  r.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/firmware";
  r.file = file;
  r.size = 1000;
  r.attempts = 1;
  r.timeout = std::chrono::seconds(10);
  const auto got = download_file(r);
  EXPECT_FALSE(got.error) << got.error.message();
  EXPECT_EQ(got.bytes, 1000u);
  EXPECT_EQ(std::filesystem::file_size(file), 1000u);
  std::filesystem::remove(file);
}

// A URL download_file() cannot use is refused before any connection: errc::invalid_argument,
// no file made, no request counted.
TEST(Download, BadUrlsAreRefused) {
  const auto file =
      std::filesystem::temp_directory_path() / ("tp-badurl-" + std::to_string(::getpid()) + ".bin");
  for (const char* url : {
           "",
           "firmware.bin",
           "ftp://127.0.0.1/firmware",
           "mqtt://127.0.0.1:1883/x",
           "http://",
           "http:///path",
           "http://:80/path",
           "http://host:0/x",
           "http://host:65536/x",
           "http://host:99999999999/x",
           "http://host:port/x",
           "http://host:/x",
           "http://[::1/x",
           "http://[v1.fe]/x",
           "http://user:pass@host/x",
           "http://host/a b",
           "http://ho%st/x",
           "http://host/x#frag#",
           "HTTP//host/x",
       }) {
    download_request r;
    r.url = url;
    r.file = file;
    r.attempts = 1;
    const auto got = download_file(r);
    EXPECT_EQ(got.error, make_error_code(errc::invalid_argument)) << url;
    EXPECT_EQ(got.attempts, 0u) << url;
    EXPECT_FALSE(std::filesystem::exists(file)) << url;
  }
}

// An upper-case scheme, an explicit port and a query are taken.
TEST(Download, UrlForms) {
  flooding_server server(10);
  const auto file = std::filesystem::temp_directory_path() /
                    ("tp-urlforms-" + std::to_string(::getpid()) + ".bin");
  std::filesystem::remove(file);
  download_request r;
  r.url = "HTTP://127.0.0.1:" + std::to_string(server.port()) + "/ota/firmware/x?a=1&b=%2F";
  r.file = file;
  r.size = 10;
  r.attempts = 1;
  const auto got = download_file(r);
  EXPECT_FALSE(got.error) << got.error.message();
  EXPECT_EQ(got.bytes, 10u);
  std::filesystem::remove(file);
}

} // namespace
} // namespace thingport::device
