#include "store/session_coalesce.hpp"

#include <cstdint>
#include <functional>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/container_hash/hash.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

namespace thingport::store {
namespace {

// (session_key, seq) of an entry, viewing the operation's key: `ops` is not changed while the
// table is in use, so no key is copied.
struct entry_ref {
  std::string_view session_key;
  std::uint64_t seq = 0;
  bool operator==(const entry_ref&) const = default;
};

struct entry_ref_hash {
  std::size_t operator()(const entry_ref& e) const noexcept {
    std::size_t h = std::hash<std::string_view>{}(e.session_key);
    boost::hash_combine(h, e.seq);
    return h;
  }
};

struct open_put {
  std::size_t put = 0;             // index of the fresh put_entry
  std::vector<std::size_t> states; // its set_entry_state operations since
};

struct message_puts {
  std::size_t total = 0;     // put_entry operations of the message in the batch
  std::size_t cancelled = 0; // of them, put and deleted again
};

} // namespace

std::size_t coalesce(std::vector<session_op>& ops) {
  boost::unordered_flat_map<entry_ref, open_put, entry_ref_hash> open;
  boost::unordered_flat_map<std::uint64_t, message_puts> messages;
  std::vector<bool> drop(ops.size(), false);
  std::size_t dropped = 0;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    std::visit(
        [&](const auto& op) {
          using T = std::decay_t<decltype(op)>;
          if constexpr (std::is_same_v<T, put_entry>) {
            ++messages[op.message_id].total;
            const entry_ref k{op.session_key, op.seq};
            if (op.fresh)
              open.insert_or_assign(k, open_put{i, {}});
            else
              open.erase(k); // replaces what may be stored: its delete must reach the store
          } else if constexpr (std::is_same_v<T, set_entry_state>) {
            if (auto it = open.find(entry_ref{op.session_key, op.seq}); it != open.end())
              it->second.states.push_back(i);
          } else if constexpr (std::is_same_v<T, delete_entry>) {
            auto it = open.find(entry_ref{op.session_key, op.seq});
            if (it == open.end())
              return;
            const auto& put = std::get<put_entry>(ops[it->second.put]);
            ++messages[put.message_id].cancelled;
            drop[it->second.put] = true;
            for (auto s : it->second.states)
              drop[s] = true;
            drop[i] = true;
            dropped += 2 + it->second.states.size();
            open.erase(it);
          } else if constexpr (std::is_same_v<T, delete_session> ||
                               std::is_same_v<T, delete_expired>) {
            open.clear();
          }
        },
        ops[i]);
  }
  if (dropped == 0)
    return 0;
  // A message none of whose entries in the batch is left: not stored. (Stored before, it is
  // kept or collected by the entries outside the batch, as it would have been.)
  for (std::size_t i = 0; i < ops.size(); ++i)
    if (const auto* m = std::get_if<put_message>(&ops[i]))
      if (auto it = messages.find(m->id); it != messages.end() && it->second.total > 0 &&
                                          it->second.total == it->second.cancelled) {
        drop[i] = true;
        ++dropped;
      }
  std::size_t out = 0;
  for (std::size_t i = 0; i < ops.size(); ++i)
    if (!drop[i]) {
      if (out != i)
        ops[out] = std::move(ops[i]);
      ++out;
    }
  ops.resize(out);
  return dropped;
}

} // namespace thingport::store
