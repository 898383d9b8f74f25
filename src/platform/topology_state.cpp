#include "platform/topology_state.hpp"

#include <algorithm>

namespace thingport::platform {

std::string gateway_state::key(std::string_view pk, std::string_view dn) {
  std::string k;
  k.reserve(pk.size() + dn.size() + 1);
  k.append(pk).append("/").append(dn);
  return k;
}

bool gateway_state::take_logins(std::string_view gpk, std::string_view gdn, std::size_t n,
                                clock::time_point now) {
  if (rate_ == 0)
    return true;
  const double cap = rate_;
  const auto k = key(gpk, gdn);
  std::lock_guard lock(mu_);
  auto it = buckets_.find(k);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_gateways) {
      // Full buckets carry nothing: forget them to make room.
      std::erase_if(buckets_, [&](const auto& e) {
        return e.second.tokens + std::chrono::duration<double>(now - e.second.at).count() * cap >=
               cap;
      });
    }
    it = buckets_.emplace(k, bucket{cap, now}).first;
  }
  auto& b = it->second;
  if (now > b.at) {
    b.tokens = std::min(cap, b.tokens + std::chrono::duration<double>(now - b.at).count() * cap);
    b.at = now;
  }
  if (b.tokens < static_cast<double>(n)) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  b.tokens -= static_cast<double>(n);
  return true;
}

bool gateway_state::report_found(std::string_view gpk, std::string_view gdn,
                                 const std::vector<store::device_ref>& found,
                                 store::timestamp now) {
  const auto k = key(gpk, gdn);
  std::lock_guard lock(mu_);
  auto it = found_.find(k);
  if (it == found_.end()) {
    if (found_.size() >= max_gateways)
      return false;
    it = found_.emplace(k, std::map<std::string, found_device, std::less<>>{}).first;
  }
  auto& held = it->second;
  std::size_t fresh = 0;
  for (const auto& r : found)
    fresh += held.contains(key(r.product_key, r.device_name)) ? 0 : 1;
  if (held.size() + fresh > max_found) {
    if (held.empty())
      found_.erase(it);
    return false;
  }
  for (const auto& r : found)
    held.insert_or_assign(key(r.product_key, r.device_name), found_device{r, now});
  return true;
}

std::vector<found_device> gateway_state::found(std::string_view gpk, std::string_view gdn) const {
  std::lock_guard lock(mu_);
  std::vector<found_device> out;
  if (auto it = found_.find(key(gpk, gdn)); it != found_.end())
    for (const auto& [k, f] : it->second)
      out.push_back(f);
  return out;
}

void gateway_state::forget_found(std::string_view gpk, std::string_view gdn,
                                 const std::vector<store::device_ref>& refs) {
  std::lock_guard lock(mu_);
  auto it = found_.find(key(gpk, gdn));
  if (it == found_.end())
    return;
  for (const auto& r : refs)
    it->second.erase(key(r.product_key, r.device_name));
  if (it->second.empty())
    found_.erase(it);
}

} // namespace thingport::platform
