// What the platform keeps per gateway beside its topology (docs/protocol.md "Gateways"): the
// sub-devices it reported as found (thing.list.found), and the token bucket that bounds its
// sub-device logins per second ([limits] subdevice_logins_per_second). Kept in memory: a restart
// forgets both.
//
// Threads: every member may be called from any thread (one mutex; nothing blocks under it).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "store/identity_store.hpp"

namespace thingport::platform {

struct found_device {
  store::device_ref ref;
  store::timestamp at{}; // when the gateway last reported it
};

class gateway_state {
public:
  using clock = std::chrono::steady_clock;
  static constexpr std::size_t max_found = store::max_sub_devices; // per gateway
  static constexpr std::size_t max_gateways = 100'000;             // tracked at once

  // logins_per_second: 0 means no bound. The bucket holds one second's worth.
  explicit gateway_state(std::uint32_t logins_per_second = 200) noexcept
      : rate_(logins_per_second) {}

  // Takes `n` login tokens of gateway gpk/gdn at `now`: all of them, or none (false, counted).
  bool take_logins(std::string_view gpk, std::string_view gdn, std::size_t n,
                   clock::time_point now = clock::now());
  std::uint32_t logins_per_second() const noexcept { return rate_; }
  std::uint64_t logins_refused() const noexcept { return refused_.load(std::memory_order_relaxed); }

  // Records `found` for gpk/gdn (one seen again is updated); false (nothing recorded) when the
  // gateway would then hold more than max_found, or max_gateways are tracked already.
  bool report_found(std::string_view gpk, std::string_view gdn,
                    const std::vector<store::device_ref>& found, store::timestamp now);
  // What gpk/gdn reported, ordered by key.
  std::vector<found_device> found(std::string_view gpk, std::string_view gdn) const;
  // Forgets the found entries that are now in the topology (or everything of a deleted gateway).
  void forget_found(std::string_view gpk, std::string_view gdn,
                    const std::vector<store::device_ref>& refs);

private:
  struct bucket {
    double tokens = 0;
    clock::time_point at{};
  };
  static std::string key(std::string_view pk, std::string_view dn);

  const std::uint32_t rate_;
  std::atomic<std::uint64_t> refused_{0};
  mutable std::mutex mu_;
  std::map<std::string, bucket, std::less<>> buckets_; // "pk/dn"
  std::map<std::string, std::map<std::string, found_device, std::less<>>, std::less<>> found_;
};

} // namespace thingport::platform
