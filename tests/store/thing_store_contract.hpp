// The contract every thing_store backend keeps (thing_store_contract.cpp,
// thing_store_contract_more.cpp). A backend's test instantiates the suite with a factory of
// fresh, empty databases:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, ThingStoreContract,
//                            ::testing::Values(thing_backend{"sqlite", make_env}),
//                            thing_backend_name);
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "contract_backend.hpp"
#include "identity_store_contract.hpp" // TP_ASSERT_OK, TP_EXPECT_ERR, cat
#include "store/thing_store.hpp"

namespace thingport::store::test {

// One empty database of a backend, dropped with the object.
class thing_backend_env {
public:
  virtual ~thing_backend_env() = default;
  // A store over this env's database with this retention; the same database on every call. A
  // test destroys the previous store before it opens again.
  virtual std::unique_ptr<thing_store> open(const retention& keep) = 0;
  // Makes a device exist (thing data belongs to devices of the identity store).
  virtual void add_device(const std::string& product_key, const std::string& device_name) = 0;
};

using thing_backend = contract_backend<thing_backend_env>;
inline constexpr backend_param_name thing_backend_name{};

inline timestamp at_ms(std::int64_t ms) {
  return timestamp{std::chrono::milliseconds{ms}};
}

class ThingStoreContract : public ::testing::TestWithParam<thing_backend> {
protected:
  void SetUp() override {
    env_ = GetParam().make_env();
    env_->add_device("pk", "dev1");
    env_->add_device("pk", "dev2");
    store_ = env_->open(keep_);
  }
  void TearDown() override {
    store_.reset();
    env_.reset();
  }
  // Reopens with another retention.
  void reopen(const retention& keep) {
    keep_ = keep;
    store_.reset();
    store_ = env_->open(keep_);
  }
  thing_store& store() { return *store_; }

  std::vector<property_value> history(std::string_view id, time_query q = {}) {
    auto h = store().property_history("pk", "dev1", id, q);
    EXPECT_TRUE(h) << h.error().message();
    return h ? *h : std::vector<property_value>{};
  }

  // No age limit by default: the tests use small timestamps.
  retention keep_{.max_values = 10'000,
                  .max_events = 10'000,
                  .max_age = std::chrono::milliseconds{0},
                  .max_downlinks = 1000,
                  .max_downlink_age = std::chrono::milliseconds{0}};
  std::unique_ptr<thing_backend_env> env_;
  std::unique_ptr<thing_store> store_;
};

} // namespace thingport::store::test
