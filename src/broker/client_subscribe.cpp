// The client's SUBSCRIBE and UNSUBSCRIBE: the policy's grants, the subscription bound, and the
// SUBACKs held while the cluster learns of a new interest (out of client.cpp for its size).
#include <algorithm>
#include <cstddef>
#include <vector>

#include <boost/asio/post.hpp>

#include "broker/broker.hpp"
#include "broker/client.hpp"
#include "broker/session.hpp"
#include "broker/worker.hpp"

namespace thingport::broker {

void client::handle(const mqtt::subscribe_packet& p) {
  auto& b = worker_.owner();
  mqtt::suback_packet ack{p.packet_id, {}};
  ack.return_codes.reserve(p.subscriptions.size());
  const auto& who = *identity_;
  const auto bound = b.policy().subscription_bound(who);
  std::size_t explicit_subs = 0;
  bool interest = false; // new to this node: the SUBACK waits for the bridge
  if (bound != 0) {
    const auto imp = who.implicit();
    for (const auto& sub : session_->view().subscriptions) {
      if (std::find(imp.begin(), imp.end(), sub.filter) == imp.end())
        ++explicit_subs;
    }
  }
  for (std::size_t i = 0; i < p.subscriptions.size(); ++i) {
    const auto& sub = p.subscriptions[i];
    const auto requested = std::min(sub.qos, who.max_qos);
    auto granted = b.policy().authorize_subscribe(who, sub.filter, requested);
    if (who.max_filters_per_subscribe != 0 && i >= who.max_filters_per_subscribe)
      granted = mqtt::suback_failure;
    if (granted != mqtt::suback_failure && bound != 0 && explicit_subs >= bound &&
        std::none_of(session_->view().subscriptions.begin(), session_->view().subscriptions.end(),
                     [&](const mqtt::subscription& s) { return s.filter == sub.filter; }))
      granted = mqtt::suback_failure;
    if (granted == mqtt::suback_failure)
      worker_.stats().subscribe_denied.fetch_add(1, std::memory_order_relaxed);
    ack.return_codes.push_back(granted);
    if (granted != mqtt::suback_failure &&
        worker_.subscribe(*session_, sub.filter, granted, &interest))
      ++explicit_subs;
  }
  finish_subscribe(p, std::move(ack), interest);
}

void client::finish_subscribe(const mqtt::subscribe_packet& p, mqtt::suback_packet ack, bool hold) {
  if (!hold && !holding_subacks())
    return send_suback(ack, p.subscriptions);
  more().held_subacks.push_back({std::move(ack), p.subscriptions, !hold});
  if (!hold)
    return;
  auto* link = worker_.owner().linked();
  link->confirm([w = &worker_, serial = serial_, id = p.packet_id](bool) {
    boost::asio::post(w->io(), [w, serial, id] { w->release_suback(serial, id); });
  });
}

void client::release_suback(std::uint16_t packet_id) {
  if (state_ != state::connected || !holding_subacks())
    return;
  auto& held = more_->held_subacks;
  for (auto& h : held) {
    if (h.ack.packet_id == packet_id && !h.ready) {
      h.ready = true;
      break;
    }
  }
  std::size_t sent = 0;
  while (sent < held.size() && held[sent].ready) {
    send_suback(held[sent].ack, held[sent].subs);
    if (state_ != state::connected)
      return;
    ++sent;
  }
  held.erase(held.begin(), held.begin() + static_cast<std::ptrdiff_t>(sent));
  if (held.empty())
    held.shrink_to_fit();
  transport_.wake();
}

void client::send_suback(mqtt::suback_packet& ack, const std::vector<mqtt::subscription>& subs) {
  send(ack);
  for (std::size_t i = 0; i < subs.size(); ++i) {
    if (ack.return_codes[i] != mqtt::suback_failure)
      worker_.deliver_retained(*session_, subs[i].filter, ack.return_codes[i]);
  }
}

void client::handle(const mqtt::unsubscribe_packet& p) {
  for (const auto& f : p.filters)
    worker_.unsubscribe(*session_, f);
  send(mqtt::unsuback_packet{p.packet_id});
}

} // namespace thingport::broker
