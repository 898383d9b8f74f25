#include "platform/config_service.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "auth/identity.hpp"
#include "platform/core.hpp"
#include "platform/ota_files.hpp"
#include "platform/ota_message.hpp"
#include "platform/services.hpp"

namespace thingport::platform {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

using clock = std::chrono::steady_clock;

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The fields of config/get_reply's "data" and config/push's "params", as the SDKs read them.
json::object params_of(const config_record& c, const std::string& url) {
  return json::object{{"configId", c.id},       {"configSize", c.size}, {"sign", c.sha256},
                      {"signMethod", "Sha256"}, {"url", url},           {"getType", "file"}};
}

json::object meta_of(const config_record& c) {
  return json::object{{"configId", c.id},   {"productKey", c.product_key},
                      {"size", c.size},     {"md5", c.md5},
                      {"sha256", c.sha256}, {"createdAt", c.created_ms}};
}

std::optional<config_record> record_of(const json::object& o) {
  const auto* id = o.if_contains("configId");
  const auto* pk = o.if_contains("productKey");
  const auto* size = o.if_contains("size");
  const auto* md5 = o.if_contains("md5");
  const auto* sha = o.if_contains("sha256");
  const auto* at = o.if_contains("createdAt");
  if (id == nullptr || !id->is_string() || pk == nullptr || !pk->is_string() || size == nullptr ||
      !size->is_number() || md5 == nullptr || !md5->is_string() || sha == nullptr ||
      !sha->is_string() || at == nullptr || !at->is_int64())
    return std::nullopt;
  config_record c{.id = std::string(id->as_string()),
                  .product_key = std::string(pk->as_string()),
                  .size = size->to_number<std::uint64_t>(),
                  .md5 = std::string(md5->as_string()),
                  .sha256 = std::string(sha->as_string()),
                  .created_ms = at->as_int64()};
  if (!valid_firmware_id(c.id))
    return std::nullopt;
  return c;
}

// A push_reply's code: 200 as a number or a string. The C SDK's failure reply is not JSON
// (`"id":1,"code":"400","data":{}`, the braces missing): it is read with the braces added.
std::optional<int> reply_code(std::string_view payload, std::uint64_t& id) {
  auto o = parse_device_object(payload);
  if (!o && payload.size() < 1024)
    o = parse_device_object("{" + std::string(payload) + "}");
  if (!o)
    return std::nullopt;
  if (const auto* v = o->if_contains("id")) {
    if (v->is_int64() && v->as_int64() >= 0)
      id = static_cast<std::uint64_t>(v->as_int64());
    else if (v->is_uint64())
      id = v->as_uint64();
    else if (v->is_string()) {
      const auto& s = v->as_string();
      id = 0;
      for (char ch : s) {
        if (ch < '0' || ch > '9' || id > 1'000'000'000'000'000ull) {
          id = 0;
          break;
        }
        id = id * 10 + static_cast<unsigned>(ch - '0');
      }
    }
  }
  const auto* c = o->if_contains("code");
  if (c == nullptr)
    return std::nullopt;
  if (c->is_int64() && c->as_int64() >= -1'000'000 && c->as_int64() <= 1'000'000)
    return static_cast<int>(c->as_int64());
  if (c->is_string() && !c->as_string().empty() && c->as_string().size() <= 7) {
    int n = 0;
    for (char ch : c->as_string()) {
      if (ch < '0' || ch > '9')
        return std::nullopt;
      n = n * 10 + (ch - '0');
    }
    return n;
  }
  return std::nullopt;
}

bool write_file(const fs::path& target, std::string_view text) {
  const auto temp = target.parent_path() / (".upload-" + auth::random_hex(8));
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    if (!out)
      return false;
  }
  std::error_code ec;
  fs::rename(temp, target, ec);
  if (ec)
    fs::remove(temp, ec);
  return !ec;
}

} // namespace

std::string_view to_string(push_device_state s) noexcept {
  switch (s) {
  case push_device_state::waiting:
    return "waiting";
  case push_device_state::sent:
    return "sent";
  case push_device_state::offline:
    return "offline";
  case push_device_state::replied:
    return "replied";
  }
  return "waiting";
}

config_service::config_service(services& s, fs::path dir, const download_signer& signer,
                               config_options o, store::ota_store* shared)
    : services_(s), dir_(std::move(dir)), signer_(signer), opts_(o), shared_(shared) {
  // The temporary files and the directory as firmware_files makes them.
  firmware_files made(dir_);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    if (e.path().extension() != ".json")
      continue;
    std::ifstream in(e.path());
    std::stringstream text;
    text << in.rdbuf();
    auto o2 = parse_device_object(text.str());
    auto rec = o2 ? record_of(*o2) : std::nullopt;
    if (!rec || !fs::exists(path_of(rec->id))) {
      spdlog::warn("config: {} is not a configuration's index entry: skipped", e.path().string());
      continue;
    }
    by_product_[rec->product_key].push_back(std::move(*rec));
  }
  if (ec)
    throw std::runtime_error("cannot read " + dir_.string() + ": " + ec.message());
  if (shared_ != nullptr)
    share_index();
  for (auto& [pk, v] : by_product_)
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
      return a.created_ms != b.created_ms ? a.created_ms < b.created_ms : a.id < b.id;
    });
  restore_pushes();
}

void config_service::forget_files(std::string_view id) const {
  std::error_code ec;
  fs::remove(journal_of(id), ec);
  fs::remove(dir_ / (std::string(id) + ".json"), ec);
  fs::remove(path_of(id), ec);
}

fs::path config_service::journal_of(std::string_view id) const {
  return dir_ / (std::string(id) + ".push");
}

void config_service::restore_pushes() {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    if (e.path().extension() != ".push")
      continue;
    const auto id = e.path().stem().string();
    auto c = push_journal::read(e.path(), opts_.max_push_devices);
    const auto it = c ? by_product_.find(c->head.product_key) : by_product_.end();
    if (it == by_product_.end() ||
        std::none_of(it->second.begin(), it->second.end(),
                     [&](const config_record& r) { return r.id == id; })) {
      spdlog::warn("config: {} is not the journal of a configuration's push: removed",
                   e.path().string());
      std::error_code ignored;
      fs::remove(e.path(), ignored);
      continue;
    }
    push_state st;
    st.view.config_id = id;
    st.view.rate_per_minute = c->head.rate_per_minute;
    st.view.started_ms = c->head.started_ms;
    for (auto& n : c->names) {
      st.index.emplace(n, st.view.devices.size());
      st.view.devices.push_back({.device_name = std::move(n)});
    }
    for (const auto& s : c->steps) {
      auto& d = st.view.devices[s.index];
      d.at_ms = s.at_ms;
      if (s.kind == 's') {
        d.state = push_device_state::sent;
        d.message_id = s.message_id;
      } else if (s.kind == 'o') {
        d.state = push_device_state::offline;
      } else {
        d.state = push_device_state::replied;
        d.code = s.code;
      }
    }
    // The schedule goes in device order: the first waiting device is where it stopped.
    while (st.next < st.view.devices.size() &&
           st.view.devices[st.next].state != push_device_state::waiting)
      ++st.next;
    st.view.running = st.next < st.view.devices.size();
    st.tokens = std::max(1.0, st.view.rate_per_minute / 60.0);
    st.refilled = clock::now();
    st.not_before = st.refilled + opts_.resume_grace;
    st.journal = push_journal::reopen(e.path());
    spdlog::info("config: push of {} resumed: {} of {} devices done", id, st.next,
                 st.view.devices.size());
    pushes_.insert_or_assign(id, std::move(st));
  }
}

void config_service::set_url_base(std::string url) {
  std::lock_guard lock(mu_);
  url_base_ = std::move(url);
}

fs::path config_service::path_of(std::string_view id) const {
  return dir_ / (std::string(id) + ".bin");
}

std::string config_service::link_of(std::string_view base, const config_record& c,
                                    std::string_view pk, std::string_view dn) const {
  const auto expires =
      std::chrono::duration_cast<std::chrono::seconds>(
          std::chrono::system_clock::now().time_since_epoch() + std::chrono::hours(24))
          .count();
  return std::string(base) +
         download_path(signer_, c.id, pk, dn, expires, config_download_prefix, config_sign_scope);
}

config_service::added config_service::add(std::string_view pk, std::string_view body) {
  added out;
  const auto fail = [&](int status, std::string message) {
    out.status = status;
    out.message = std::move(message);
    return out;
  };
  if (body.empty())
    return fail(400, "an empty configuration");
  if (body.size() > opts_.max_size)
    return fail(413, "configuration over " + std::to_string(opts_.max_size) + " bytes");
  {
    std::lock_guard lock(mu_);
    if (auto it = by_product_.find(pk);
        it != by_product_.end() && it->second.size() >= opts_.max_per_product)
      return fail(409, "product " + std::string(pk) + " has " +
                           std::to_string(opts_.max_per_product) +
                           " configurations: delete one first");
  }
  std::unique_ptr<firmware_upload> up;
  try {
    up = std::make_unique<firmware_upload>(dir_);
  } catch (const std::exception& e) {
    spdlog::error("config: {}", e.what());
    return fail(500, "cannot store the configuration");
  }
  config_record rec{.id = new_firmware_id(), .product_key = std::string(pk)};
  if (!up->write(body.data(), body.size()) || !up->finish() || !up->commit(path_of(rec.id)))
    return fail(500, "cannot store the configuration");
  rec.size = body.size();
  rec.md5 = up->md5();
  rec.sha256 = up->sha256();
  rec.created_ms = unix_ms();
  // One node: its index entry beside the file. A cluster: the store has both, for every node.
  const bool indexed =
      shared_ != nullptr
          ? shared_
                ->add_config(
                    {rec.id, rec.product_key, rec.size, rec.md5, rec.sha256, rec.created_ms}, body)
                .has_value()
          : write_file(dir_ / (rec.id + ".json"), json::serialize(meta_of(rec)));
  if (!indexed) {
    std::error_code ec;
    fs::remove(path_of(rec.id), ec);
    return fail(500, "cannot store the configuration");
  }
  {
    std::lock_guard lock(mu_);
    by_product_[rec.product_key].push_back(rec);
  }
  if (observer_)
    observer_(pk);
  spdlog::info("config: {} of {} ({} bytes) stored", rec.id, pk, rec.size);
  out.rec = std::move(rec);
  return out;
}

std::vector<config_record> config_service::list(std::string_view pk) const {
  std::lock_guard lock(mu_);
  auto it = by_product_.find(pk);
  return it == by_product_.end() ? std::vector<config_record>{} : it->second;
}

std::optional<config_record> config_service::find(std::string_view pk, std::string_view id) const {
  std::lock_guard lock(mu_);
  auto it = by_product_.find(pk);
  if (it == by_product_.end())
    return std::nullopt;
  for (const auto& c : it->second)
    if (c.id == id)
      return c;
  return std::nullopt;
}

bool config_service::remove(std::string_view pk, std::string_view id) {
  if (shared_ != nullptr && find(pk, id)) {
    if (auto r = shared_->delete_config(pk, id); !r && r.error() != store::errc::not_found) {
      spdlog::error("config: store: {} of {} not deleted: {}", id, pk, r.error().message());
      return false;
    }
  }
  {
    std::lock_guard lock(mu_);
    auto it = by_product_.find(pk);
    if (it == by_product_.end())
      return false;
    auto& v = it->second;
    auto c = std::find_if(v.begin(), v.end(), [&](const config_record& r) { return r.id == id; });
    if (c == v.end())
      return false;
    v.erase(c);
    if (v.empty())
      by_product_.erase(it);
    if (auto p = pushes_.find(id); p != pushes_.end())
      pushes_.erase(p);
  }
  forget_files(id);
  spdlog::info("config: {} of {} deleted", id, pk);
  if (observer_)
    observer_(pk);
  return true;
}

std::optional<config_record> config_service::newest(std::string_view pk) const {
  auto it = by_product_.find(pk);
  if (it == by_product_.end() || it->second.empty())
    return std::nullopt;
  return it->second.back();
}

config_service::push_started config_service::push(std::string_view pk, std::string_view id,
                                                  std::uint32_t rate) {
  push_started out;
  if (!find(pk, id)) {
    out.status = 404;
    out.message = "configuration " + std::string(id) + " not found";
    return out;
  }
  push_state st;
  for (std::size_t offset = 0;; offset += store::max_page_limit) {
    auto page = services_.devices().store().list_devices(
        pk, store::page{.offset = offset, .limit = store::max_page_limit});
    if (!page) {
      out.status = 500;
      out.message = "store: " + page.error().message();
      return out;
    }
    for (auto& d : *page)
      st.view.devices.push_back({.device_name = std::move(d.device_name)});
    if (st.view.devices.size() > opts_.max_push_devices) {
      out.status = 400;
      out.message = "a push reaches at most " + std::to_string(opts_.max_push_devices) + " devices";
      return out;
    }
    if (page->size() < store::max_page_limit)
      break;
  }
  std::sort(st.view.devices.begin(), st.view.devices.end(),
            [](const auto& a, const auto& b) { return a.device_name < b.device_name; });
  for (std::size_t i = 0; i < st.view.devices.size(); ++i)
    st.index.emplace(st.view.devices[i].device_name, i);
  st.view.config_id = std::string(id);
  st.view.rate_per_minute = rate;
  st.view.started_ms = unix_ms();
  st.view.running = !st.view.devices.empty();
  st.tokens = std::max(1.0, rate / 60.0);
  st.refilled = clock::now();
  out.devices = st.view.devices.size();
  std::vector<std::string> names;
  names.reserve(st.view.devices.size());
  for (const auto& d : st.view.devices)
    names.push_back(d.device_name);
  st.journal =
      push_journal::create(journal_of(id), {std::string(pk), rate, st.view.started_ms}, names);
  if (!st.journal) {
    out.status = 500;
    out.message = "cannot record the push";
    return out;
  }
  std::lock_guard lock(mu_);
  pushes_.insert_or_assign(std::string(id), std::move(st));
  return out;
}

std::optional<push_view> config_service::push_of(std::string_view pk, std::string_view id) const {
  std::lock_guard lock(mu_);
  auto it = pushes_.find(id);
  if (it == pushes_.end() || !newest(pk))
    return std::nullopt;
  return it->second.view;
}

void config_service::tick() {
  struct send {
    config_record rec;
    std::string dn;
    std::uint64_t id;
    std::optional<store::device_ref> via; // a sub-device: the gateway it is logged in through
  };
  std::vector<send> out;
  std::string base;
  // What this tick changed, per push: on disk before any of its messages goes out.
  std::vector<std::pair<std::shared_ptr<push_journal>, std::string>> steps;
  {
    std::lock_guard lock(mu_);
    base = url_base_;
    const auto now = clock::now();
    const auto wall = std::chrono::system_clock::now();
    std::size_t asked = 0; // store lookups this tick, under mu_
    for (auto& [cid, st] : pushes_) {
      if (!st.view.running)
        continue;
      std::optional<config_record> rec;
      for (const auto& [pk, v] : by_product_)
        for (const auto& c : v)
          if (c.id == cid)
            rec = c;
      if (!rec) {
        st.view.running = false;
        continue;
      }
      if (now < st.not_before) {
        st.refilled = now; // its rate counts from when it goes on
        continue;
      }
      const double per_ms = st.view.rate_per_minute / 60000.0;
      const double cap = std::max(1.0, st.view.rate_per_minute / 60.0);
      st.tokens = std::min(
          cap, st.tokens +
                   per_ms * std::chrono::duration<double, std::milli>(now - st.refilled).count());
      st.refilled = now;
      std::string lines;
      for (std::size_t looked = 0;
           st.tokens >= 1 && looked < opts_.scan_batch && st.next < st.view.devices.size();
           ++looked) {
        auto& d = st.view.devices[st.next++];
        auto on = services_.devices().online(rec->product_key, d.device_name);
        d.at_ms = unix_ms();
        // Linked to another node of a cluster: sent through the routing (a sub-device there
        // counts as offline: its gateway's link is not known here).
        if (!on && cluster_.elsewhere) {
          if (asked == opts_.store_lookups) { // the rest on the next tick
            --st.next;
            break;
          }
          ++asked;
          if (cluster_.elsewhere(rec->product_key, d.device_name)) {
            on.emplace();
            on->since = std::chrono::time_point_cast<store::timestamp::duration>(
                wall - std::chrono::seconds(1));
          }
        }
        // A sub-device online through its gateway is pushed to on its own topic, which the
        // gateway subscribes, through the gateway's link (like every other downlink to it).
        if (!on || wall - on->since < std::chrono::milliseconds(500)) {
          if (on) { // just connected (logged in): come back to it on the next tick
            --st.next;
            break;
          }
          d.state = push_device_state::offline;
          lines += push_journal::line({.kind = 'o', .index = st.next - 1, .at_ms = d.at_ms});
          continue;
        }
        d.state = push_device_state::sent;
        d.message_id = services_.next_message_id();
        lines += push_journal::line(
            {.kind = 's', .index = st.next - 1, .message_id = d.message_id, .at_ms = d.at_ms});
        out.push_back({*rec, d.device_name, d.message_id, on->via});
        st.tokens -= 1;
      }
      if (st.next >= st.view.devices.size())
        st.view.running = false;
      if (!lines.empty() && st.journal)
        steps.emplace_back(st.journal, std::move(lines));
    }
    sent_ += out.size();
  }
  // A send that could not be recorded still goes out: after a crash that device may get the
  // push again (at least once) rather than never.
  for (auto& [journal, lines] : steps)
    if (!journal->append(lines, true))
      spdlog::error("config: a push's journal could not be written: {}", std::strerror(errno));
  // Signed and written outside mu_: the workers answering config/get wait for nothing of this.
  for (auto& s : out) {
    const auto& pk = s.rec.product_key;
    json::object msg{{"id", std::to_string(s.id)},
                     {"version", "1.0"},
                     {"params", params_of(s.rec, link_of(base, s.rec, pk, s.dn))},
                     {"method", "thing.config.push"}};
    const std::string topic = "/sys/" + pk + "/" + s.dn + "/thing/config/push";
    auto m = make_message(topic, json::serialize(msg), 1, false, s.id);
    if (s.via) // routed where the gateway's session lives
      services_.publish_to_device(s.via->product_key, s.via->device_name, std::move(m));
    else
      services_.publish_to_device(pk, s.dn, std::move(m));
  }
}

void config_service::on_get(std::string_view pk, std::string_view dn, std::string_view topic,
                            std::string_view payload) {
  auto o = parse_device_object(payload);
  if (!o)
    return;
  json::value id = "0";
  if (const auto* v = o->if_contains("id"); v != nullptr && (v->is_string() || v->is_number()))
    id = *v;
  json::object reply{{"id", std::move(id)}, {"version", "1.0"}};
  std::optional<config_record> c;
  std::string base;
  {
    std::lock_guard lock(mu_);
    ++gets_;
    c = newest(pk);
    base = url_base_;
  }
  if (c) {
    reply["code"] = 200;
    reply["data"] = params_of(*c, link_of(base, *c, pk, dn));
  } else {
    reply["code"] = 404;
    reply["data"] = json::object{};
    reply["message"] = "no configuration for product " + std::string(pk);
  }
  services_.publish_to_device(
      pk, dn, make_message(std::string(topic) + "_reply", json::serialize(reply), 0, false));
}

void config_service::on_push_reply(std::string_view pk, std::string_view dn,
                                   std::string_view payload) {
  std::uint64_t id = 0;
  const auto code = reply_code(payload, id);
  if (!code)
    return;
  std::shared_ptr<push_journal> journal;
  std::string line;
  bool ours = false;
  {
    std::lock_guard lock(mu_);
    ours = record_reply(pk, dn, id, *code, journal, line);
  }
  if (!ours) {
    forward_reply(pk, dn, id, *code); // the push of another node, maybe
    return;
  }
  if (journal) // not synced: a crash may forget a reply, never a send
    (void)journal->append(line, false);
}

bool config_service::record_reply(std::string_view pk, std::string_view dn, std::uint64_t id,
                                  int code, std::shared_ptr<push_journal>& journal,
                                  std::string& line, bool exact) {
  auto it = by_product_.find(pk);
  if (it == by_product_.end())
    return false;
  // The push this reply answers: the one whose message to dn had this id; else the newest
  // push that sent dn a message.
  push_device* best = nullptr;
  push_state* best_push = nullptr;
  std::int64_t best_at = -1;
  for (const auto& c : it->second) {
    auto p = pushes_.find(c.id);
    if (p == pushes_.end())
      continue;
    auto d = p->second.index.find(std::string(dn));
    if (d == p->second.index.end())
      continue;
    auto& dev = p->second.view.devices[d->second];
    if (dev.message_id == 0)
      continue;
    if (id != 0 && dev.message_id == id) {
      best = &dev;
      best_push = &p->second;
      break;
    }
    if (!exact && p->second.view.started_ms > best_at) {
      best = &dev;
      best_push = &p->second;
      best_at = p->second.view.started_ms;
    }
  }
  if (best == nullptr)
    return false;
  best->state = push_device_state::replied;
  best->code = code;
  best->at_ms = unix_ms();
  journal = best_push->journal;
  line =
      push_journal::line({.kind = 'r',
                          .index = static_cast<std::size_t>(best - best_push->view.devices.data()),
                          .code = code,
                          .at_ms = best->at_ms});
  return true;
}

std::uint64_t config_service::gets() const {
  std::lock_guard lock(mu_);
  return gets_;
}

std::uint64_t config_service::replies_unforwarded() const {
  std::lock_guard lock(mu_);
  return unforwarded_;
}

std::uint64_t config_service::pushes_sent() const {
  std::lock_guard lock(mu_);
  return sent_;
}

} // namespace thingport::platform
