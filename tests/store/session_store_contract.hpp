// The contract every session_store backend keeps (session_store_contract.cpp). A backend's test
// instantiates the suite with a factory of fresh, empty databases:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, SessionStoreContract,
//                            ::testing::Values(session_backend{"sqlite", make_env}),
//                            session_backend_name);
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "contract_backend.hpp"
#include "store/session_store.hpp"

namespace thingport::store::test {

// One empty database of a backend, dropped with the object.
class session_backend_env {
public:
  virtual ~session_backend_env() = default;
  // A store over this env's database; the same database on every call. A test destroys the
  // previous store before it opens again.
  virtual std::unique_ptr<session_store> open() = 0;
};

using session_backend = contract_backend<session_backend_env>;
inline constexpr backend_param_name session_backend_name{};

// Everything load_all() streamed, in order.
struct loaded final : session_sink {
  std::vector<stored_session> sessions;
  std::vector<stored_subscription> subscriptions;
  std::vector<stored_message> messages;
  std::vector<stored_entry> entries;
  std::vector<char> order; // 's', 'b', 'm', 'e' as they came
  void on_session(const stored_session& s) override {
    sessions.push_back(s);
    order.push_back('s');
  }
  void on_subscription(const stored_subscription& s) override {
    subscriptions.push_back(s);
    order.push_back('b');
  }
  void on_message(const stored_message& m) override {
    messages.push_back(m);
    order.push_back('m');
  }
  void on_entry(const stored_entry& e) override {
    entries.push_back(e);
    order.push_back('e');
  }
};

class SessionStoreContract : public ::testing::TestWithParam<session_backend> {
protected:
  void SetUp() override {
    env_ = GetParam().make_env();
    store_ = env_->open();
  }
  void TearDown() override {
    store_.reset();
    env_.reset();
  }
  void reopen() {
    store_.reset();
    store_ = env_->open();
  }
  loaded load() {
    loaded l;
    EXPECT_FALSE(store_->load_all(l));
    return l;
  }
  std::error_code apply(std::vector<session_op> ops) { return store_->apply(ops); }

  std::unique_ptr<session_backend_env> env_;
  std::unique_ptr<session_store> store_;
};

} // namespace thingport::store::test
