// ota_service: MQTT block download (ota_blocks.hpp, docs/protocol.md "OTA: MQTT block
// download"), on the OTA thread. A device is served blocks of the firmware of its own open job
// (waiting or in progress; the job's download protocol does not matter), remembered for 5 s
// between requests so that a download is not one store query a block.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "platform/ota_blocks.hpp"
#include "platform/ota_service.hpp"
#include "platform/services.hpp"

namespace thingport::platform {

namespace {

using clock = std::chrono::steady_clock;
constexpr auto recheck = std::chrono::seconds(5);

// Reads [offset, offset + n) of `path`; nullopt on an I/O error or a short file.
std::optional<std::string> read_block(const std::filesystem::path& path, std::uint64_t offset,
                                      std::size_t n) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return std::nullopt;
  std::string out(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    const auto r = ::pread(fd, out.data() + got, n - got, static_cast<off_t>(offset + got));
    if (r <= 0)
      break;
    got += static_cast<std::size_t>(r);
  }
  ::close(fd);
  if (got != n)
    return std::nullopt;
  return out;
}

} // namespace

void ota_service::serve_block(const item& it) {
  const std::string reply_topic = it.msg->topic + "_reply";
  auto answer = [&](std::string payload) {
    services_.publish_to_device(it.pk, it.dn,
                                make_message(reply_topic, std::move(payload), 0, false));
  };
  auto req = parse_block_request(it.msg->payload);
  if (!req)
    return answer(block_error("\"0\"", 400, "not a file download request"));
  const auto now = clock::now();
  const std::string key = it.pk + "/" + it.dn;
  auto found = streams_.find(key);
  if (found == streams_.end() || found->second.id != req->stream_id ||
      now - found->second.checked >= recheck) {
    // Who the device is downloading for: its open job's firmware.
    auto open = db_.open_job_of(it.pk, it.dn, store::now());
    if (!open) {
      spdlog::warn("ota: store: {}", open.error().message());
      return answer(block_error(req->id_json, 500, "store error"));
    }
    std::optional<store::firmware_record> fw;
    if (*open) {
      auto f = db_.firmware((*open)->first.product_key, (*open)->first.firmware_id);
      if (f)
        fw = std::move(*f);
    }
    if (!fw || stream_id_of(fw->id) != req->stream_id) {
      if (found != streams_.end())
        streams_.erase(found);
      return answer(block_error(req->id_json, 404, "no upgrade of this device has that streamId"));
    }
    if (found == streams_.end()) {
      if (streams_.size() >= opts_.max_streams)
        streams_.clear(); // forgotten streams are read again
      found = streams_
                  .emplace(key,
                           stream{.tokens = static_cast<double>(opts_.block_rate), .refilled = now})
                  .first;
    }
    auto& s = found->second;
    s.id = req->stream_id;
    s.firmware_id = fw->id;
    s.size = fw->size;
    s.checked = now;
  }
  auto& s = found->second;
  const double rate = opts_.block_rate;
  s.tokens =
      std::min(rate, s.tokens + rate * std::chrono::duration<double>(now - s.refilled).count());
  s.refilled = now;
  if (s.tokens < 1) {
    blocks_dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  s.tokens -= 1;
  if (req->file_id != 1)
    return answer(block_error(req->id_json, 404, "fileId: a firmware stream has one file, 1"));
  if (req->size == 0 || req->size > max_block_size)
    return answer(block_error(req->id_json, 400, "size: 1..65536 bytes a block"));
  if (req->offset >= s.size)
    return answer(block_error(req->id_json, 400, "offset: past the end of the file"));
  const auto n = static_cast<std::size_t>(std::min(req->size, s.size - req->offset));
  auto block = read_block(files_.path_of(s.firmware_id), req->offset, n);
  if (!block) // uploaded to another node of the cluster: from the store
    block = stored_bytes(s.firmware_id, req->offset, n, block_chunk_);
  if (!block)
    return answer(block_error(req->id_json, 500, "cannot read the firmware file"));
  blocks_.fetch_add(1, std::memory_order_relaxed);
  block_bytes_.fetch_add(n, std::memory_order_relaxed);
  answer(block_reply(*req, s.size, *block));
}

} // namespace thingport::platform
