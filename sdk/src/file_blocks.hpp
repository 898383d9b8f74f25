// The MQTT block download's wire format, device side (docs/protocol.md "OTA: MQTT block
// download"): the request's JSON and the binary reply's parse, and the downloader that
// ota::download_blocks() runs. The pure functions may be called from any thread; a
// block_download lives on its client's strand.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include "thingport/device/client.hpp"
#include "thingport/device/ota.hpp"

namespace thingport::device::detail {

// A field as text: a string as it is, a number as JSON writes it; empty otherwise.
std::string text(const boost::json::object& o, std::string_view key);

std::string block_request(std::string_view id, std::string_view file_token, std::uint64_t stream_id,
                          std::uint64_t file_id, std::uint64_t offset, std::uint32_t size);

struct block_reply {
  std::string id;
  int code = 0;
  std::string file_token;
  std::uint64_t file_length = 0, offset = 0;
  std::string_view block; // into the payload; empty unless code is 200
};

// nullopt: not a reply (too short, a bad length header or JSON, a length or CRC that does not
// match). Bounded: the JSON header is at most 4 KiB.
std::optional<block_reply> parse_block_reply(std::string_view payload);

// The file's MD5 and SHA-256, lower hex (download.cpp).
std::pair<std::string, std::string> file_digests(const std::filesystem::path& file);

// One download: every member on the client's strand.
class block_download : public std::enable_shared_from_this<block_download> {
public:
  block_download(client& c, std::string topic, ota::block_download_request r, ota::block_done d);
  void start();
  void on_reply(std::string_view payload);
  void on_link_up(); // subscribed again after a reconnect: ask again at once
  void drop();       // quietly: `done` is not called
  bool finished() const noexcept { return !done_; }

private:
  void ask();
  void arm(std::chrono::milliseconds after, void (*action)(block_download&));
  void finish(std::error_code ec);

  client& cl_;
  std::string topic_;
  ota::block_download_request r_;
  ota::block_done done_;
  std::ofstream out_;
  std::uint64_t have_ = 0, next_id_ = 1;
  std::string pending_id_;
  unsigned tries_ = 0;
  std::uint64_t timer_gen_ = 0;
  download_result res_;
  boost::asio::steady_timer timer_;
};

} // namespace thingport::device::detail
