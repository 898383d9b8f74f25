#include "cluster/membership.hpp"

#include <algorithm>

namespace thingport::cluster {

membership::membership(std::string self, std::chrono::milliseconds down_after,
                       std::chrono::milliseconds forget_after)
    : self_(std::move(self)), down_after_(down_after), forget_after_(forget_after) {}

void membership::left(std::string_view node) {
  std::lock_guard lock(mu_);
  if (auto it = peers_.find(node); it != peers_.end())
    peers_.erase(it);
}

bool membership::heard(std::string_view node, std::uint64_t connections,
                       std::uint64_t devices_online, steady::time_point now, bool draining) {
  if (node == self_ || node.empty())
    return false;
  std::lock_guard lock(mu_);
  auto it = peers_.find(node);
  if (it == peers_.end()) {
    if (peers_.size() >= max_peers) {
      const auto oldest = std::min_element(peers_.begin(), peers_.end(), [](auto& a, auto& b) {
        return a.second.last < b.second.last;
      });
      peers_.erase(oldest);
    }
    it = peers_.emplace(std::string(node), peer{}).first;
  }
  const bool fresh =
      it->second.last == steady::time_point{} || now - it->second.last >= down_after_;
  it->second = peer{connections, devices_online, draining, now};
  return fresh;
}

std::vector<node_status> membership::list(node_status self, steady::time_point now) const {
  std::vector<node_status> out;
  {
    std::lock_guard lock(mu_);
    out.reserve(peers_.size() + 1);
    for (const auto& [name, p] : peers_)
      if (now - p.last < forget_after_)
        out.push_back(
            {name, now - p.last < down_after_, p.connections, p.devices_online, p.draining});
  }
  self.node = self_;
  self.up = true;
  out.push_back(std::move(self));
  std::sort(out.begin(), out.end(),
            [](const node_status& a, const node_status& b) { return a.node < b.node; });
  return out;
}

std::vector<std::string> membership::heard_within(steady::time_point now,
                                                  std::chrono::milliseconds within) const {
  std::vector<std::string> out;
  std::lock_guard lock(mu_);
  for (const auto& [name, p] : peers_)
    if (now - p.last < within)
      out.push_back(name);
  return out;
}

} // namespace thingport::cluster
