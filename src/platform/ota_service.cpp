#include "platform/ota_service.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <utility>

#include <spdlog/spdlog.h>

#include "auth/identity.hpp"
#include "auth/login.hpp"
#include "platform/device_policy.hpp"
#include "platform/ota_blocks.hpp"
#include "platform/services.hpp"
#include "thing/requests.hpp"
#include "thing/topic.hpp"

namespace thingport::platform {

namespace {

// A sub-device's OTA messages come from the gateway it is logged in through.
bool gateway_of(const std::optional<online_info>& sub, const device_login_ref& who) {
  return sub && sub->via && sub->via->product_key == who.product_key &&
         sub->via->device_name == who.device_name;
}

using clock = std::chrono::steady_clock;

// The consumer kinds of the OTA topics; the thing layer's kinds are far below.
constexpr std::uint8_t kind_progress = 0xF1;
constexpr std::uint8_t kind_request = 0xF2;
constexpr std::uint8_t kind_get = 0xF3;
constexpr std::uint8_t kind_config_get = 0xF4;
constexpr std::uint8_t kind_config_reply = 0xF5;
constexpr std::uint8_t kind_file_download = 0xF6;
constexpr auto kind_inform = static_cast<std::uint8_t>(thing::topic_kind::ota_inform);

constexpr std::size_t scan_batch = 500;          // waiting rows looked at per job and tick
constexpr std::size_t max_job_devices = 100'000; // devices in one job
constexpr std::size_t max_from_versions = 100;

// "/ota/device/<what>/{pk}/{dn}": pk and dn, when the topic is that.
bool ota_topic(std::string_view topic, std::string_view what, std::string_view& pk,
               std::string_view& dn) {
  constexpr std::string_view head = "/ota/device/";
  if (!topic.starts_with(head))
    return false;
  topic.remove_prefix(head.size());
  if (!topic.starts_with(what) || topic.size() <= what.size() || topic[what.size()] != '/')
    return false;
  topic.remove_prefix(what.size() + 1);
  const auto slash = topic.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 >= topic.size() ||
      topic.find('/', slash + 1) != std::string_view::npos)
    return false;
  pk = topic.substr(0, slash);
  dn = topic.substr(slash + 1);
  return true;
}

std::vector<std::string> split_commas(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const auto comma = s.find(',');
    auto part = s.substr(0, comma);
    if (!part.empty())
      out.emplace_back(part);
    if (comma == std::string_view::npos)
      break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

} // namespace

ota_service::ota_service(services& s, store::ota_store& db, store::thing_store& things,
                         publish_consumer& next, firmware_files& files, download_signer signer,
                         ota_options o)
    : services_(s), db_(db), things_(things), next_(next), files_(files),
      signer_(std::move(signer)), opts_(std::move(o)) {}

ota_service::~ota_service() {
  stop();
}

void ota_service::start() {
  if (opts_.shared_files) // what uploads cut short a day ago or more left
    if (auto n = db_.delete_orphan_chunks(store::now() - std::chrono::hours(24)); n && *n > 0)
      spdlog::info("ota: {} stored firmware chunks of no firmware removed", *n);
  if (!thread_.joinable())
    thread_ = std::thread([this] { run(); });
}

void ota_service::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

store::result<void> ota_service::share_firmware(std::string_view id) {
  if (!opts_.shared_files)
    return {};
  const int fd = ::open(files_.path_of(id).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return make_error_code(store::errc::storage_failure);
  std::string buf(store::ota_store::chunk_size, '\0');
  store::result<void> out;
  for (std::uint32_t n = 0; out; ++n) {
    std::size_t got = 0;
    while (got < buf.size()) {
      const auto r = ::pread(fd, buf.data() + got, buf.size() - got,
                             static_cast<off_t>(std::uint64_t{n} * buf.size() + got));
      if (r < 0) {
        out = make_error_code(store::errc::storage_failure);
        break;
      }
      if (r == 0)
        break;
      got += static_cast<std::size_t>(r);
    }
    if (!out || (got == 0 && n > 0))
      break;
    out = db_.put_chunk(id, n, std::string_view(buf.data(), got), store::now());
    if (got < buf.size())
      break;
  }
  ::close(fd);
  return out;
}

void ota_service::forget_firmware(std::string_view id, bool deleted) {
  files_.remove(id);
  if (deleted && observer_)
    observer_(id);
  if (opts_.shared_files)
    if (auto r = db_.delete_chunks(id); !r)
      spdlog::warn("ota: the stored bytes of firmware {} were not removed: {}", id,
                   r.error().message());
}

std::optional<std::string> ota_service::stored_bytes(std::string_view id, std::uint64_t offset,
                                                     std::size_t n, chunk_cache& cache) const {
  if (!opts_.shared_files)
    return std::nullopt;
  constexpr auto size = store::ota_store::chunk_size;
  std::string out;
  out.reserve(n);
  while (out.size() < n) {
    const std::uint64_t at = offset + out.size();
    const auto k = static_cast<std::uint32_t>(at / size);
    if (cache.firmware_id != id || cache.n != k || cache.data.empty()) {
      auto c = db_.chunk(id, k);
      if (!c)
        return std::nullopt;
      cache = {std::string(id), k, std::move(*c)};
    }
    const auto within = static_cast<std::size_t>(at - std::uint64_t{k} * size);
    if (within >= cache.data.size())
      return std::nullopt; // past the end
    const auto take = std::min(n - out.size(), cache.data.size() - within);
    out.append(cache.data, within, take);
  }
  return out;
}

std::uint64_t ota_service::sent() const noexcept {
  return sent_.load(std::memory_order_relaxed);
}

std::uint64_t ota_service::blocks_served() const noexcept {
  return blocks_.load(std::memory_order_relaxed);
}

std::uint64_t ota_service::block_bytes() const noexcept {
  return block_bytes_.load(std::memory_order_relaxed);
}

std::uint64_t ota_service::blocks_dropped() const noexcept {
  return blocks_dropped_.load(std::memory_order_relaxed);
}

std::uint8_t ota_service::classify(const client_identity& who, std::string_view topic) const {
  if (topic.starts_with("/ota/device/") && device_login(who).has_value()) {
    std::string_view pk, dn;
    if (ota_topic(topic, "progress", pk, dn))
      return kind_progress;
    if (ota_topic(topic, "request", pk, dn))
      return kind_request;
  } else if (topic.starts_with("/sys/") && topic.ends_with("/thing/ota/firmware/get") &&
             device_login(who).has_value()) {
    return kind_get;
  } else if (topic.starts_with("/sys/") && topic.ends_with("/thing/file/download") &&
             device_login(who).has_value()) {
    return kind_file_download;
  } else if (config_ != nullptr && topic.starts_with("/sys/") && device_login(who).has_value()) {
    if (topic.ends_with("/thing/config/get"))
      return kind_config_get;
    if (topic.ends_with("/thing/config/push_reply"))
      return kind_config_reply;
  }
  return next_.classify(who, topic);
}

void ota_service::consume(const std::shared_ptr<const client_identity>& who, const message_ptr& m) {
  const std::uint8_t kind = m->kind;
  if (kind == kind_config_get || kind == kind_config_reply) {
    // Answered here, on the worker: the configuration index is in memory.
    const auto login = device_login(*who);
    const auto t = thing::classify_topic(m->topic);
    // A gateway asks and replies for a sub-device logged in through it.
    if (!login || config_ == nullptr ||
        ((t.product_key != login->product_key || t.device_name != login->device_name) &&
         !gateway_of(services_.devices().online(t.product_key, t.device_name), *login)))
      return;
    if (kind == kind_config_get)
      config_->on_get(t.product_key, t.device_name, m->topic, m->payload);
    else
      config_->on_push_reply(t.product_key, t.device_name, m->payload);
    return;
  }
  const bool ours = kind == kind_progress || kind == kind_request || kind == kind_get ||
                    kind == kind_file_download;
  if (!ours)
    next_.consume(who, m);
  if (!ours && kind != kind_inform)
    return;
  const auto login = device_login(*who);
  if (!login)
    return;
  // A device speaks for itself, a gateway also for a sub-device logged in through it.
  std::string_view pk, dn;
  if (kind == kind_get || kind == kind_file_download) {
    const auto t = thing::classify_topic(m->topic);
    pk = t.product_key;
    dn = t.device_name;
  } else {
    ota_topic(m->topic,
              kind == kind_progress  ? "progress"
              : kind == kind_request ? "request"
                                     : "inform",
              pk, dn);
  }
  if ((pk != login->product_key || dn != login->device_name) &&
      !gateway_of(services_.devices().online(pk, dn), *login))
    return;
  {
    std::lock_guard lock(mu_);
    if (stop_ || queue_.size() >= opts_.max_queue)
      return;
    queue_.push_back({kind, std::string(pk), std::string(dn), m});
  }
  cv_.notify_one();
}

void ota_service::run() {
  std::unique_lock lock(mu_);
  auto next_tick = clock::now();
  for (;;) {
    cv_.wait_until(lock, next_tick, [&] { return stop_ || wake_ || refresh_ || !queue_.empty(); });
    if (stop_)
      return;
    wake_ = false;
    const bool refresh = std::exchange(refresh_, false);
    std::deque<item> batch;
    batch.swap(queue_);
    lock.unlock();
    for (const auto& it : batch)
      handle(it);
    const auto now = clock::now();
    if (refresh)
      next_refresh_ = {};
    if (now >= next_tick || refresh) {
      schedule(now);
      next_tick = now + opts_.tick;
    }
    lock.lock();
  }
}

upgrade_info ota_service::info_of(const store::firmware_record& fw, std::string_view pk,
                                  std::string_view dn, bool mqtt) const {
  const auto expires = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch() + opts_.link_ttl)
                           .count();
  return {.version = fw.version,
          .module = fw.module,
          .size = fw.size,
          .md5 = fw.md5,
          .sha256 = fw.sha256,
          .url = mqtt ? std::string()
                      : opts_.url_base + download_path(signer_, fw.id, pk, dn, expires),
          .stream_id = mqtt ? stream_id_of(fw.id) : 0};
}

void ota_service::send_upgrade(const store::ota_job_record& job, const store::firmware_record& fw,
                               std::string_view dn) {
  const auto id = services_.next_message_id();
  const auto payload =
      upgrade_message(info_of(fw, job.product_key, dn, job.download_protocol == "mqtt"), id);
  const std::string topic = "/ota/device/upgrade/" + job.product_key + "/" + std::string(dn);
  services_.publish_to_device(job.product_key, dn, make_message(topic, payload, 1, false, id));
  sent_.fetch_add(1, std::memory_order_relaxed);
}

void ota_service::check_done(const std::string& job_id) {
  if (auto done = db_.finish_if_done(job_id); done && *done) {
    spdlog::info("ota: job {} done", job_id);
    {
      std::lock_guard lock(mu_);
      refresh_ = true;
    }
  }
}

void ota_service::handle(const item& it) {
  if (it.kind == kind_file_download)
    return serve_block(it);
  const auto now = store::now();
  auto open = db_.open_job_of(it.pk, it.dn, now);
  if (!open) {
    spdlog::warn("ota: store: {}", open.error().message());
    return;
  }
  if (it.kind == kind_get && !*open) {
    // No upgrade for this device: an empty answer.
    if (auto r = parse_firmware_request(it.msg->payload))
      services_.publish_to_device(it.pk, it.dn,
                                  make_message(it.msg->topic + "_reply",
                                               firmware_get_reply(std::nullopt, r->id_json), 0,
                                               false));
    return;
  }
  if (!*open)
    return;
  const auto& [job, dev] = **open;
  switch (it.kind) {
  case kind_progress: {
    auto p = parse_progress(it.msg->payload);
    if (!p || (!p->module.empty() && p->module != job.module))
      return;
    if (p->step < 0) {
      auto st = db_.fail(job.id, it.dn, p->step, job.retries, now);
      if (st && *st && **st == store::ota_device_state::failed)
        check_done(job.id);
    } else {
      (void)db_.set_progress(job.id, it.dn, p->step, now);
    }
    return;
  }
  case kind_inform: {
    auto v = thing::parse_ota_inform(it.msg->payload);
    if (v && v->module == job.module && v->version == job.version) {
      if (auto ok = db_.succeed(job.id, it.dn, now); ok && *ok)
        check_done(job.id);
    }
    return;
  }
  case kind_request:
  case kind_get: {
    auto r = parse_firmware_request(it.msg->payload);
    if (!r || (r->module != job.module && r->module != "default"))
      return;
    auto fw = db_.firmware(job.product_key, job.firmware_id);
    if (!fw)
      return;
    if (dev.state == store::ota_device_state::waiting) {
      auto marked = db_.mark_sent(job.id, it.dn, now);
      if (!marked || !*marked)
        return;
    }
    if (it.kind == kind_get) {
      services_.publish_to_device(
          it.pk, it.dn,
          make_message(it.msg->topic + "_reply",
                       firmware_get_reply(
                           info_of(*fw, it.pk, it.dn, job.download_protocol == "mqtt"), r->id_json),
                       0, false));
      sent_.fetch_add(1, std::memory_order_relaxed);
    } else {
      send_upgrade(job, *fw, it.dn);
    }
    return;
  }
  default:
    return;
  }
}

double ota_service::share() const {
  return opts_.nodes_up ? static_cast<double>(opts_.nodes_up()) : 1.0; // 0: not known yet
}

void ota_service::refresh_jobs() {
  auto running = db_.running_jobs();
  if (!running) {
    spdlog::warn("ota: store: {}", running.error().message());
    return;
  }
  std::set<std::string> seen;
  for (auto& j : *running) {
    seen.insert(j.id);
    auto it = jobs_.find(j.id);
    if (it != jobs_.end()) {
      it->second.job = std::move(j);
      continue;
    }
    auto fw = db_.firmware(j.product_key, j.firmware_id);
    if (!fw) {
      spdlog::warn("ota: job {}: firmware {} is gone", j.id, j.firmware_id);
      continue;
    }
    job_state st;
    st.firmware = std::move(*fw);
    const double nodes = share();
    // a second's worth (none while the nodes up are not known)
    st.tokens = nodes == 0 ? 0 : std::max(1.0, j.rate_per_minute / 60.0 / nodes);
    st.refilled = clock::now();
    st.job = std::move(j);
    jobs_.emplace(st.job.id, std::move(st));
  }
  std::erase_if(jobs_, [&](const auto& kv) { return !seen.contains(kv.first); });
  jobs_running_.store(jobs_.size(), std::memory_order_relaxed);
}

void ota_service::schedule(clock::time_point now) {
  if (config_ != nullptr)
    config_->tick();
  if (now >= next_refresh_) {
    refresh_jobs();
    for (auto& [id, st] : jobs_) {
      if (st.job.timeout_ms > 0) {
        const auto cutoff = store::now() - std::chrono::milliseconds(st.job.timeout_ms / 60 *
                                                                     opts_.timeout_unit.count());
        if (auto late = db_.overdue(id, cutoff))
          for (const auto& dn : *late)
            (void)db_.fail(id, dn, -1, st.job.retries, store::now());
      }
      check_done(id);
    }
    next_refresh_ = now + std::chrono::seconds(1);
  }
  const auto wall = std::chrono::system_clock::now();
  const auto today = store::now();
  const double nodes = share();
  for (auto& [id, st] : jobs_) {
    if (!st.job.started(today) || nodes == 0) {
      st.refilled = now; // its rate counts from its start (or once the nodes up are known)
      continue;
    }
    const double per_ms = st.job.rate_per_minute / 60000.0 / nodes;
    const double cap = std::max(1.0, st.job.rate_per_minute / 60.0 / nodes);
    st.tokens = std::min(
        cap,
        st.tokens + per_ms * std::chrono::duration<double, std::milli>(now - st.refilled).count());
    st.refilled = now;
    if (st.tokens < 1)
      continue;
    auto waiting = db_.devices_in(id, store::ota_device_state::waiting, st.cursor, scan_batch);
    if (!waiting)
      continue;
    if (waiting->size() < scan_batch)
      st.cursor.clear(); // the next look starts over
    for (const auto& d : *waiting) {
      if (st.tokens < 1)
        break;
      if (waiting->size() == scan_batch)
        st.cursor = d.device_name;
      auto on = services_.devices().online(st.job.product_key, d.device_name);
      if (!on || wall - on->since < opts_.online_grace) // through a gateway too
        continue;
      auto marked = db_.mark_sent(id, d.device_name, store::now());
      if (!marked || !*marked)
        continue;
      send_upgrade(st.job, st.firmware, d.device_name);
      st.tokens -= 1;
    }
  }
}

job_created ota_service::create_job(std::string_view pk, const job_spec& spec) {
  job_created out;
  const auto fail = [&](int status, std::string message) {
    out.status = status;
    out.message = std::move(message);
    return out;
  };
  auto fw = db_.firmware(pk, spec.firmware_id);
  if (!fw) {
    if (fw.error() == store::errc::not_found)
      return fail(404, "firmware " + spec.firmware_id + " not found");
    return fail(500, "store: " + fw.error().message());
  }
  if (spec.from_versions.size() > max_from_versions)
    return fail(400, "fromVersions: at most 100");
  std::vector<std::string> names;
  if (spec.devices) {
    if (spec.devices->empty() || spec.devices->size() > max_job_devices)
      return fail(400, "devices: 1..100000 device names");
    for (const auto& dn : *spec.devices) {
      auth::device_record rec;
      if (!auth::valid_device_name(dn) ||
          services_.devices().find_device(pk, dn, rec) != auth::lookup_status::found)
        return fail(400, "device " + dn + " not found in product " + std::string(pk));
    }
    names = *spec.devices;
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
  } else {
    for (std::size_t offset = 0;; offset += store::max_page_limit) {
      auto page = services_.devices().store().list_devices(
          pk, store::page{.offset = offset, .limit = store::max_page_limit});
      if (!page)
        return fail(500, "store: " + page.error().message());
      for (auto& d : *page)
        names.push_back(std::move(d.device_name));
      if (page->size() < store::max_page_limit || names.size() > max_job_devices)
        break;
    }
    if (names.size() > max_job_devices)
      return fail(400, "a job reaches at most 100000 devices");
  }
  auto from = spec.from_versions.empty() ? split_commas(fw->src_versions) : spec.from_versions;
  if (!from.empty()) {
    std::vector<std::string> kept;
    for (auto& dn : names) {
      auto mods = things_.firmware(pk, dn);
      if (!mods)
        continue;
      for (const auto& m : *mods)
        if (m.module == fw->module && std::find(from.begin(), from.end(), m.version) != from.end())
          kept.push_back(std::move(dn));
    }
    names = std::move(kept);
  }
  if (names.empty())
    return fail(400, "no device matches the job");
  store::ota_job_record job{.id = auth::random_hex(8),
                            .product_key = std::string(pk),
                            .firmware_id = fw->id,
                            .version = fw->version,
                            .module = fw->module,
                            .state = store::ota_job_state::running,
                            .rate_per_minute = spec.rate_per_minute == 0 ? opts_.default_rate
                                                                         : spec.rate_per_minute,
                            .retries = spec.retries,
                            .timeout_ms = std::int64_t{spec.timeout_minutes} * 60'000,
                            .created = store::now(),
                            .download_protocol = spec.download_protocol,
                            .start = spec.start};
  if (auto r = db_.create_job(job, names, job.created); !r)
    return fail(500, "store: " + r.error().message());
  {
    std::lock_guard lock(mu_);
    refresh_ = true;
  }
  cv_.notify_one();
  out.job_id = job.id;
  out.devices = names.size();
  return out;
}

store::result<bool> ota_service::cancel_job(std::string_view pk, std::string_view job_id) {
  auto r = db_.cancel_job(pk, job_id, store::now());
  {
    std::lock_guard lock(mu_);
    refresh_ = true;
  }
  cv_.notify_one();
  return r;
}

} // namespace thingport::platform
