// ota::download_blocks(): the device side of the MQTT block download (file_blocks.hpp).
#include "file_blocks.hpp"

#include <algorithm>

#include <boost/json.hpp>

#include "thing/file_block.hpp"
#include "thingport/device/error.hpp"

namespace thingport::device::detail {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t max_header = 4096;
constexpr std::uint32_t max_block = 64 * 1024;

} // namespace

std::string text(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr)
    return {};
  if (v->is_string())
    return std::string(v->as_string());
  if (v->is_number())
    return json::serialize(*v);
  return {};
}

std::string block_request(std::string_view id, std::string_view file_token, std::uint64_t stream_id,
                          std::uint64_t file_id, std::uint64_t offset, std::uint32_t size) {
  return json::serialize(json::object{
      {"id", id},
      {"version", "1.0"},
      {"params",
       json::object{{"fileToken", file_token},
                    {"fileInfo", json::object{{"streamId", stream_id}, {"fileId", file_id}}},
                    {"fileBlock", json::object{{"size", size}, {"offset", offset}}}}}});
}

std::optional<block_reply> parse_block_reply(std::string_view payload) {
  if (payload.size() < 2)
    return std::nullopt;
  const std::size_t n =
      (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]);
  if (n == 0 || n > max_header || payload.size() < 2 + n)
    return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(payload.substr(2, n), ec);
  if (ec || !v.is_object())
    return std::nullopt;
  const auto& o = v.as_object();
  block_reply r;
  r.id = text(o, "id");
  const auto code = thing::count_of(o, "code");
  if (!code || *code > 100000)
    return std::nullopt;
  r.code = static_cast<int>(*code);
  const std::string_view rest = payload.substr(2 + n);
  if (r.code != 200)
    return rest.empty() ? std::optional(r) : std::nullopt;
  const auto* d = o.if_contains("data");
  if (d == nullptr || !d->is_object())
    return std::nullopt;
  const auto& data = d->as_object();
  r.file_token = text(data, "fileToken");
  const auto length = thing::count_of(data, "fileLength");
  const auto b_size = thing::count_of(data, "bSize");
  const auto b_offset = thing::count_of(data, "bOffset");
  if (!length || !b_size || !b_offset || *b_size == 0 || *b_size > max_block ||
      rest.size() != *b_size + 2)
    return std::nullopt;
  r.file_length = *length;
  r.offset = *b_offset;
  r.block = rest.substr(0, *b_size);
  const auto crc = static_cast<std::uint16_t>(static_cast<unsigned char>(rest[*b_size]) |
                                              (static_cast<unsigned char>(rest[*b_size + 1]) << 8));
  if (crc != thing::crc16_arc(r.block))
    return std::nullopt;
  return r;
}

block_download::block_download(client& c, std::string topic, ota::block_download_request r,
                               ota::block_done d)
    : cl_(c), topic_(std::move(topic)), r_(std::move(r)), done_(std::move(d)),
      timer_(c.executor()) {}

void block_download::start() {
  if (r_.stream_id == 0 || r_.size == 0 || r_.file.empty() || r_.block_size == 0 ||
      r_.block_size > max_block) {
    finish(make_error_code(errc::invalid_argument));
    return;
  }
  std::error_code ec;
  have_ = fs::exists(r_.file, ec) ? fs::file_size(r_.file, ec) : 0;
  if (ec || have_ > r_.size) { // not a first part of this file: start over
    fs::remove(r_.file, ec);
    have_ = 0;
  }
  res_.first_start = have_;
  out_.open(r_.file, std::ios::binary | std::ios::app);
  if (!out_) {
    finish(std::make_error_code(std::errc::io_error));
    return;
  }
  if (have_ == r_.size) {
    finish({});
    return;
  }
  ask();
}

void block_download::ask() {
  pending_id_ = std::to_string(next_id_++);
  ++tries_;
  ++res_.attempts;
  const auto size =
      static_cast<std::uint32_t>(std::min<std::uint64_t>(r_.block_size, r_.size - have_));
  cl_.publish(topic_,
              block_request(pending_id_, r_.file_token, r_.stream_id, r_.file_id, have_, size), 0);
  arm(r_.block_timeout, [](block_download& self) {
    if (self.tries_ >= std::max(1u, self.r_.block_attempts)) {
      self.finish(make_error_code(errc::reply_timeout));
      return;
    }
    ++self.res_.resumes;
    self.res_.last_start = self.have_;
    self.ask();
  });
}

// One timer for the reply timeout and the pause between blocks; a newer arm() makes an older
// one's handler a no-op even when it was already queued.
void block_download::arm(std::chrono::milliseconds after, void (*action)(block_download&)) {
  const auto gen = ++timer_gen_;
  timer_.expires_after(after);
  timer_.async_wait([w = weak_from_this(), gen, action](boost::system::error_code ec) {
    auto self = w.lock();
    if (ec || !self || self->finished() || self->timer_gen_ != gen)
      return;
    action(*self);
  });
}

void block_download::on_link_up() {
  if (finished())
    return;
  // The request or its reply may have gone with the old link: ask again now rather than after
  // the timeout. The blocks on disk stay; the download goes on from the last good one.
  tries_ = 0;
  ++res_.resumes;
  res_.last_start = have_;
  ask();
}

void block_download::on_reply(std::string_view payload) {
  if (finished())
    return;
  auto r = parse_block_reply(payload);
  if (!r)
    return; // a damaged reply: the timeout asks again
  if (r->code != 200) {
    if (r->id == pending_id_)
      finish(make_error_code(errc::http_status));
    return;
  }
  // A reply to an earlier request for a block already taken (after a re-ask) is ignored.
  if (r->offset != have_ || r->file_token != r_.file_token)
    return;
  if (r->file_length != r_.size || r->block.size() > r_.size - have_) {
    finish(make_error_code(errc::bad_reply));
    return;
  }
  out_.write(r->block.data(), static_cast<std::streamsize>(r->block.size()));
  out_.flush();
  if (!out_) {
    finish(std::make_error_code(std::errc::no_space_on_device));
    return;
  }
  have_ += r->block.size();
  tries_ = 0;
  if (r_.progress)
    r_.progress(have_, r_.size);
  if (have_ == r_.size)
    finish({});
  else if (r_.block_interval.count() > 0)
    arm(r_.block_interval, [](block_download& self) { self.ask(); });
  else
    ask();
}

void block_download::drop() {
  done_ = nullptr;
  ++timer_gen_;
  timer_.cancel();
}

void block_download::finish(std::error_code ec) {
  ++timer_gen_;
  timer_.cancel();
  if (out_.is_open())
    out_.close();
  std::error_code fec;
  res_.bytes = fs::exists(r_.file, fec) ? fs::file_size(r_.file, fec) : 0;
  if (!ec) {
    const auto [md5, sha256] = file_digests(r_.file);
    if (res_.bytes != r_.size || (!r_.md5.empty() && r_.md5 != md5) ||
        (!r_.sha256.empty() && r_.sha256 != sha256))
      ec = make_error_code(errc::digest_mismatch);
    if (ec) // not a first part of the file either: the next download starts over
      fs::remove(r_.file, fec);
  }
  res_.error = ec;
  auto done = std::move(done_);
  done_ = nullptr;
  if (done)
    done(res_);
}

} // namespace thingport::device::detail
