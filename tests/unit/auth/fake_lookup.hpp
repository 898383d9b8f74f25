// An in-memory device_lookup for the auth tests.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <utility>

#include "auth/lookup.hpp"

namespace thingport::auth::test {

class fake_lookup : public device_lookup {
public:
  std::map<std::string, product_record> products;
  std::map<std::pair<std::string, std::string>, device_record> devices;
  std::map<std::string, app_record> apps;
  bool unavailable = false;
  bool throws = false;
  mutable int calls = 0;

  lookup_status find_product(std::string_view pk, product_record& out) const override {
    return find(products, std::string(pk), out);
  }
  lookup_status find_device(std::string_view pk, std::string_view dn,
                            device_record& out) const override {
    return find(devices, std::pair{std::string(pk), std::string(dn)}, out);
  }
  lookup_status find_app(std::string_view app_key, app_record& out) const override {
    return find(apps, std::string(app_key), out);
  }

private:
  template <typename Map, typename Key, typename Out>
  lookup_status find(const Map& m, const Key& k, Out& out) const {
    ++calls;
    if (throws) {
      throw std::runtime_error("store down");
    }
    if (unavailable) {
      return lookup_status::unavailable;
    }
    const auto it = m.find(k);
    if (it == m.end()) {
      return lookup_status::not_found;
    }
    out = it->second;
    return lookup_status::found;
  }
};

} // namespace thingport::auth::test
