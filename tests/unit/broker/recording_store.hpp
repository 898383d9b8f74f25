// A session store that keeps every operation it is given, in order, for broker tests that check
// what the broker wrote (and commits nothing anywhere).
#pragma once

#include <cstddef>
#include <string>
#include <variant>
#include <vector>

#include "store/session_store.hpp"

namespace thingport::broker::test {

class recording_store final : public store::session_store {
public:
  std::vector<store::session_op> ops;
  std::error_code apply(std::span<const store::session_op> batch) override {
    ops.insert(ops.end(), batch.begin(), batch.end());
    return {};
  }
  std::error_code load_all(store::session_sink&) override { return {}; }
  store::result<store::session_counts> counts() override { return store::session_counts{}; }
  store::result<std::vector<std::string>> check() override { return std::vector<std::string>{}; }
  store::result<std::uint64_t> used_bytes() override { return std::uint64_t{0}; }

  // The filters of every delete_subscription, in order.
  std::vector<std::string> dropped() const {
    std::vector<std::string> out;
    for (const auto& op : ops)
      if (const auto* d = std::get_if<store::delete_subscription>(&op))
        out.push_back(d->filter);
    return out;
  }
  // How many operations of type Op.
  template <class Op> std::size_t count() const {
    std::size_t n = 0;
    for (const auto& op : ops)
      n += std::holds_alternative<Op>(op) ? 1 : 0;
    return n;
  }
};

} // namespace thingport::broker::test
