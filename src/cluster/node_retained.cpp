// Retained messages in JetStream (docs/cluster.md "Retained messages"): the stream made if
// missing and read back into the node's retained store, on a thread of its own.
#include <algorithm>
#include <chrono>
#include <mutex>

#include <spdlog/spdlog.h>

#include "broker/broker.hpp"
#include "cluster/nats_link.hpp"
#include "cluster/subject.hpp"

namespace thingport::cluster {

namespace {

constexpr const char* retained_stream = "THINGPORT_RETAINED";
constexpr auto retained_retry = std::chrono::seconds(2);

} // namespace

void node::retained_loop() {
  std::unique_lock lock(rmu_);
  for (;;) {
    rcv_.wait_for(lock, std::chrono::milliseconds(250), [&] { return rstop_; });
    if (rstop_)
      return;
    if (!linked())
      continue;
    if (retained_synced_.load(std::memory_order_acquire)) {
      // What could not go out (before the sync, or since: the link's queue full) goes now,
      // through JetStream, acknowledged.
      std::set<std::string, std::less<>> noted;
      {
        std::lock_guard fresh(fresh_mu_);
        noted.swap(unsent_retained_);
        unsent_bytes_ = 0;
      }
      if (!noted.empty()) {
        lock.unlock();
        resend_retained(noted);
        lock.lock();
      }
      continue;
    }
    if (steady::now() < retained_retry_)
      continue;
    lock.unlock();
    const bool ok = sync_retained();
    lock.lock();
    if (ok)
      retained_synced_.store(true, std::memory_order_release); // and the loop resends at once
    else
      retained_retry_ = steady::now() + retained_retry;
  }
}

void node::note_unsent_retained(std::string_view topic) {
  std::lock_guard lock(fresh_mu_);
  if (unsent_retained_.contains(topic))
    return;
  if (unsent_retained_.size() >= max_unsent_retained ||
      unsent_bytes_ + topic.size() > max_unsent_bytes) {
    stats_.retained_unkept.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  unsent_retained_.emplace(topic);
  unsent_bytes_ += topic.size();
}

void node::resend_retained(const std::set<std::string, std::less<>>& topics) {
  std::vector<broker::message_ptr> found;
  for (const auto& topic : topics) {
    found.clear();
    broker_.retained().match(topic, found); // a topic holds no wildcard: itself only
    published(found.empty() ? broker::make_message(topic, {}, 0, true) : found.front(), true);
  }
  spdlog::info("cluster: {} retained messages set here while NATS was unreachable sent again",
               topics.size());
}

bool node::sync_retained() {
  jsCtx* js = nullptr;
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = retained_wait_ms;
  if (natsConnection_JetStream(&js, impl_->conn, &jo) != NATS_OK)
    return false;
  const auto said = [&](const char* what, natsStatus s, jsErrCode e) {
    if (!retained_warned_)
      spdlog::warn("cluster: JetStream {} ({}, {}): retained messages are kept only in the "
                   "nodes' memory until it answers (nats-server -js)",
                   what, natsStatus_GetText(s), static_cast<int>(e));
    retained_warned_ = true;
    jsCtx_Destroy(js);
    return false;
  };
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = retained_stream;
  const char* subjects[] = {retained_all};
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.MaxMsgsPerSubject = 1; // the last message of each topic: its retained one (or its clear)
  cfg.Storage = js_FileStorage;
  cfg.Replicas = std::clamp(opts_.replicas, 1, 5);
  jsStreamInfo* info = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  auto s = js_AddStream(&info, js, &cfg, nullptr, &err);
  if (s != NATS_OK && err == JSStreamNameExistErr) {
    jsStreamInfo_Destroy(info);
    info = nullptr;
    s = js_UpdateStream(&info, js, &cfg, nullptr, &err); // the replicas may have changed
    if (s != NATS_OK) {
      spdlog::warn("cluster: JetStream stream {}: kept as it is ({})", retained_stream,
                   natsStatus_GetText(s));
      s = js_GetStreamInfo(&info, js, retained_stream, nullptr, &err);
    }
  }
  if (s != NATS_OK || info == nullptr)
    return said("stream", s, err);
  const auto stored = info->State.Msgs;
  jsStreamInfo_Destroy(info);
  {
    std::lock_guard lock(fresh_mu_);
    syncing_ = true;
    fresh_.clear();
  }
  std::uint64_t loaded = 0;
  bool complete = stored == 0;
  if (!complete) {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = retained_stream;
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverLastPerSubject;
    natsSubscription* sub = nullptr;
    s = js_SubscribeSync(&sub, js, retained_all, nullptr, &so, &err);
    if (s != NATS_OK) {
      std::lock_guard lock(fresh_mu_);
      syncing_ = false;
      return said("read", s, err);
    }
    for (;;) {
      natsMsg* m = nullptr;
      if (natsSubscription_NextMsg(&m, sub, retained_wait_ms) != NATS_OK)
        break;
      jsMsgMetaData* meta = nullptr;
      std::uint64_t pending = 0;
      if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
        pending = meta->NumPending;
        jsMsgMetaData_Destroy(meta);
      }
      const auto topic = topic_of_subject(natsMsg_GetSubject(m));
      if (topic) {
        bool newer = false;
        {
          std::lock_guard lock(fresh_mu_);
          newer = fresh_.contains(*topic) || unsent_retained_.contains(*topic);
        }
        if (!newer) {
          const auto qos =
              static_cast<std::uint8_t>(std::min<std::uint64_t>(number(header(m, h_qos)), 2));
          const std::string_view payload(natsMsg_GetData(m),
                                         static_cast<std::size_t>(natsMsg_GetDataLength(m)));
          broker_.retained().set(broker::make_message(*topic, payload, qos, true));
          ++loaded;
        }
      }
      natsMsg_Destroy(m);
      if (pending == 0) {
        complete = true;
        break;
      }
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
  }
  {
    std::lock_guard lock(fresh_mu_);
    syncing_ = false;
    fresh_.clear();
  }
  jsCtx_Destroy(js);
  stats_.retained_loaded.fetch_add(loaded, std::memory_order_relaxed);
  if (!complete) {
    spdlog::warn("cluster: JetStream: the retained messages' read stopped after {}; again soon",
                 loaded);
    return false;
  }
  spdlog::info("cluster: JetStream keeps the retained messages (stream {}, {} replicas); {} "
               "read back",
               retained_stream, cfg.Replicas, loaded);
  retained_warned_ = false;
  return true;
}

} // namespace thingport::cluster
