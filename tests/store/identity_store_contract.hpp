// The contract every identity_store backend keeps (identity_store_contract.cpp). A backend's
// test instantiates the suite with a factory of fresh, empty databases:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, IdentityStoreContract,
//                            ::testing::Values(backend{"sqlite", make_sqlite_env}),
//                            backend_name);
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "contract_backend.hpp"
#include "store/identity_store.hpp"

namespace thingport::store::test {

// One empty database of a backend (a temp file, a fresh schema...), dropped with the object.
class backend_env {
public:
  virtual ~backend_env() = default;
  // A store over this env's database; the same database on every call. A test destroys the
  // previous store before it opens again.
  virtual std::unique_ptr<identity_store> open() = 0;
};

using backend = contract_backend<backend_env>;
inline constexpr backend_param_name backend_name{};

// Concatenation by append: GCC 12 at -O3 warns falsely (-Wrestrict) on "literal" + string.
template <typename... Parts> std::string cat(const Parts&... parts) {
  std::string out;
  (out.append(parts), ...);
  return out;
}

// Everything load_all() streamed, in order.
struct recording_sink : identity_sink {
  struct product_entry {
    product p;
    std::optional<std::string> thing_model;
    friend bool operator==(const product_entry&, const product_entry&) = default;
  };
  std::vector<product_entry> products;
  std::vector<topic_class> topic_classes;
  std::vector<device> devices;
  std::vector<application> apps;
  std::vector<char> order; // 'p', 't', 'd', 'a' per call

  void on_product(const product& p, const std::optional<std::string>& tm) override {
    products.push_back({p, tm});
    order.push_back('p');
  }
  void on_topic_class(const topic_class& tc) override {
    topic_classes.push_back(tc);
    order.push_back('t');
  }
  void on_device(const device& d) override {
    devices.push_back(d);
    order.push_back('d');
  }
  void on_application(const application& a) override {
    apps.push_back(a);
    order.push_back('a');
  }
};

// Assertions on store results: success (printing the error otherwise), or one store::errc.
#define TP_ASSERT_OK(expr)                                                                         \
  do {                                                                                             \
    const auto& r_ = (expr);                                                                       \
    ASSERT_TRUE(r_) << #expr << ": " << r_.error().message();                                      \
  } while (false)
#define TP_EXPECT_ERR(expr, code)                                                                  \
  do {                                                                                             \
    const auto& r_ = (expr);                                                                       \
    if (r_) {                                                                                      \
      ADD_FAILURE() << #expr << " succeeded, expected " << to_string(code);                        \
    } else {                                                                                       \
      EXPECT_EQ(r_.error(), make_error_code(code)) << #expr << ": " << r_.error().message();       \
    }                                                                                              \
  } while (false)

class IdentityStoreContract : public ::testing::TestWithParam<backend> {
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
  identity_store& store() { return *store_; }

  std::unique_ptr<backend_env> env_;
  std::unique_ptr<identity_store> store_;
};

} // namespace thingport::store::test
