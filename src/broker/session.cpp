#include "broker/session.hpp"

#include <algorithm>

namespace thingport::broker {

const session_data session::empty_{};

session::session(subscriber_id id, std::string_view key)
    : owns_key_(true), key_size_(static_cast<std::uint32_t>(key.size())), id_(id) {
  // MQTT strings (client ids) and the store's keys are far below 4 GiB.
  char* own = new char[key.size()];
  std::copy(key.begin(), key.end(), own);
  key_data_ = own;
}

session::session(subscriber_id id, std::shared_ptr<const client_identity> who)
    : identity(std::move(who)), key_size_(static_cast<std::uint32_t>(identity->session_key.size())),
      id_(id), key_data_(identity->session_key.data()) {}

session::~session() {
  if (owns_key_)
    delete[] key_data_;
}

session_data& session::data() {
  if (!data_)
    data_ = std::make_unique<session_data>();
  return *data_;
}

std::uint16_t session::next_packet_id() noexcept {
  // The window is far smaller than 65535, so this terminates quickly.
  for (;;) {
    last_packet_id_ =
        static_cast<std::uint16_t>(last_packet_id_ == 65535 ? 1 : last_packet_id_ + 1);
    if (find_inflight(last_packet_id_) == nullptr)
      return last_packet_id_;
  }
}

inflight_message* session::find_inflight(std::uint16_t packet_id) noexcept {
  if (!data_)
    return nullptr;
  for (auto& m : data_->inflight)
    if (m.packet_id == packet_id)
      return &m;
  return nullptr;
}

bool session::erase_inflight(std::uint16_t packet_id) noexcept {
  if (!data_)
    return false;
  auto& inflight = data_->inflight;
  auto it = std::find_if(inflight.begin(), inflight.end(),
                         [&](const inflight_message& m) { return m.packet_id == packet_id; });
  if (it == inflight.end())
    return false;
  inflight.erase(it);
  return true;
}

bool session::add_subscription(const std::string& filter, std::uint8_t qos) {
  auto& subscriptions = data().subscriptions;
  for (auto& s : subscriptions) {
    if (s.filter == filter) {
      s.qos = qos;
      return false;
    }
  }
  subscriptions.push_back({filter, qos});
  return true;
}

bool session::remove_subscription(std::string_view filter) {
  if (!data_)
    return false;
  auto& subscriptions = data_->subscriptions;
  auto it = std::find_if(subscriptions.begin(), subscriptions.end(),
                         [&](const mqtt::subscription& s) { return s.filter == filter; });
  if (it == subscriptions.end())
    return false;
  subscriptions.erase(it);
  return true;
}

} // namespace thingport::broker
