#include "platform/ota_blocks.hpp"

#include <charconv>
#include <system_error>

#include <boost/json.hpp>

#include "thing/file_block.hpp"

namespace thingport::platform {

namespace json = boost::json;

namespace {

constexpr std::size_t max_request = 4 * 1024;

std::string framed(const json::object& header, std::string_view block, bool crc) {
  const std::string h = json::serialize(header);
  std::string out;
  out.reserve(2 + h.size() + block.size() + 2);
  out.push_back(static_cast<char>((h.size() >> 8) & 0xFF));
  out.push_back(static_cast<char>(h.size() & 0xFF));
  out += h;
  out += block;
  if (crc) {
    const auto c = thing::crc16_arc(block);
    out.push_back(static_cast<char>(c & 0xFF));
    out.push_back(static_cast<char>(c >> 8));
  }
  return out;
}

json::value id_value(std::string_view id_json) {
  std::error_code ec;
  auto v = json::parse(id_json, ec);
  return ec ? json::value("0") : v;
}

} // namespace

std::optional<block_request> parse_block_request(std::string_view payload) {
  if (payload.size() > max_request)
    return std::nullopt;
  json::parse_options opts;
  opts.allow_trailing_commas = true; // the SDK writes {"streamId":N,"fileId":N,}
  std::error_code ec;
  json::value v = json::parse(payload, ec, {}, opts);
  const auto* o = v.if_object();
  if (ec || o == nullptr)
    return std::nullopt;
  const auto* params = o->if_contains("params");
  if (params == nullptr || !params->is_object())
    return std::nullopt;
  const auto& p = params->as_object();
  const auto* info = p.if_contains("fileInfo");
  const auto* block = p.if_contains("fileBlock");
  if (info == nullptr || !info->is_object() || block == nullptr || !block->is_object())
    return std::nullopt;
  block_request r;
  if (const auto* id = o->if_contains("id"); id != nullptr && (id->is_string() || id->is_number()))
    r.id_json = json::serialize(*id);
  if (const auto* t = p.if_contains("fileToken");
      t != nullptr && t->is_string() && !t->as_string().empty() && t->as_string().size() <= 128)
    r.file_token = std::string(t->as_string());
  auto stream = thing::count_of(info->as_object(), "streamId");
  auto file = thing::count_of(info->as_object(), "fileId");
  auto size = thing::count_of(block->as_object(), "size");
  auto offset = thing::count_of(block->as_object(), "offset");
  if (!stream || !size || !offset)
    return std::nullopt;
  r.stream_id = *stream;
  r.file_id = file.value_or(1);
  r.size = *size;
  r.offset = *offset;
  return r;
}

std::string block_reply(const block_request& r, std::uint64_t file_length, std::string_view block) {
  json::object header{{"id", id_value(r.id_json)},
                      {"code", 200},
                      {"msg", "success"},
                      {"data", json::object{{"fileToken", r.file_token},
                                            {"fileLength", file_length},
                                            {"bSize", block.size()},
                                            {"bOffset", r.offset}}}};
  return framed(header, block, true);
}

std::string block_error(std::string_view id_json, int code, std::string_view msg) {
  return framed(json::object{{"id", id_value(id_json)}, {"code", code}, {"msg", msg}}, {}, false);
}

std::uint32_t stream_id_of(std::string_view firmware_id) noexcept {
  std::uint32_t n = 0;
  const auto head = firmware_id.substr(0, 7);
  auto [end, ec] = std::from_chars(head.data(), head.data() + head.size(), n, 16);
  (void)end;
  if (ec != std::errc{})
    n = 0;
  return n + 1;
}

} // namespace thingport::platform
