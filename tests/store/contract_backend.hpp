// What every store contract suite (identity, session, thing) is parameterised with: a named
// factory of fresh, empty databases of one backend. `Env` is the suite's handle on one such
// database (it opens the store over it).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

namespace thingport::store::test {

template <typename Env> struct contract_backend {
  std::string name;
  std::function<std::unique_ptr<Env>()> make_env;
};

// Names the instantiated tests after the backend ("…/sqlite").
struct backend_param_name {
  template <typename Env>
  std::string operator()(const ::testing::TestParamInfo<contract_backend<Env>>& info) const {
    return info.param.name;
  }
};

} // namespace thingport::store::test
