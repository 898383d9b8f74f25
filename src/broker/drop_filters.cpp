// Filters a policy takes back from a live or stored session (broker::drop_filters): a gateway's
// filters on a sub-device's topics when the sub-device's login through it ends. The pick is an
// authorization decision, so it is never given up: it follows the session from worker to worker
// for as long as the session exists. Every hop follows one real takeover (a handoff posts the
// adopt to the new home before it publishes that home, so the chase is queued behind it); the
// chase ends when it lands or when the session is gone (its filters went with it).
#include <chrono>
#include <limits>
#include <string>
#include <vector>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "broker/broker.hpp"
#include "broker/worker.hpp"

namespace thingport::broker {

namespace asio = boost::asio;

namespace {
constexpr std::uint8_t busy_hops = 16; // a session moving this often: logged once, still chased
// Unsubscribes per turn of the worker: a gateway losing thousands of filters at once (its link
// closed with hundreds of sub-devices logged in) does not hold the worker for the whole pass; the
// rest is picked again (the pick decides at each turn) in a turn posted behind other work.
constexpr std::size_t max_drops_per_turn = 256;
} // namespace

void broker::drop_filters(std::string_view session_key, filter_pick drop) {
  const auto [w, id] = session_home(session_key);
  if (w == nullptr)
    return;
  asio::post(w->io(), [w, id, drop = std::move(drop)] { w->drop_filters(id, drop, 0); });
}

void worker::drop_filters(subscriber_id id,
                          const std::function<bool(const client_identity*, std::string_view)>& drop,
                          std::uint8_t hops) {
  session* found = sessions_.find(id);
  if (found == nullptr) {
    // Moving between workers (a takeover): chase it to its new home.
    const auto home = broker_.sessions().home(id);
    if (!home || *home == index_)
      return; // destroyed: nothing of it is left to drop
    if (hops == busy_hops)
      spdlog::warn("drop_filters: session {} moved {} times; still following it", id, hops);
    const auto next = hops == std::numeric_limits<std::uint8_t>::max() ? hops : hops + 1;
    asio::post(broker_.at(*home).io(), [w = &broker_.at(*home), id, drop, next] {
      w->drop_filters(id, drop, static_cast<std::uint8_t>(next));
    });
    return;
  }
  session& s = *found;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> gone;
  bool more = false;
  for (const auto& sub : s.view().subscriptions) {
    if (!drop(s.identity.get(), sub.filter))
      continue;
    if (gone.size() == max_drops_per_turn) {
      more = true;
      break;
    }
    gone.push_back(sub.filter);
  }
  for (const auto& f : gone)
    unsubscribe(s, f); // the session, the index, the bridge's interest, the stored session
  if (more)            // the rest in a later turn, wherever the session is then
    asio::post(io(), [this, id, drop, hops] { drop_filters(id, drop, hops); });
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  spdlog::debug("drop_filters: {} of {} filters of session {} dropped in {} us", gone.size(),
                s.view().subscriptions.size() + gone.size(), s.key(), us);
}

} // namespace thingport::broker
