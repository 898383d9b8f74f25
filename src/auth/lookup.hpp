// The plug-in point between auth and the store: what login() needs to know about products,
// devices and applications. The broker implements it (over the store, usually with a cache).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace thingport::auth {

enum class lookup_status : unsigned char {
  found,
  not_found,
  unavailable, // the store did not answer: the client gets CONNACK 3
};

struct product_record {
  std::string product_secret{};
  bool dynamic_registration = false;
};

struct device_record {
  std::string device_secret{};
  bool enabled = true;
  bool activated = false;                    // has connected at least once (status != UNACTIVE)
  std::optional<std::string> device_token{}; // set by regnwl; the connwl password
  std::string iot_id{};                      // auth::iot_id() of the device
};

struct app_record {
  std::string app_secret{};
  bool enabled = true;
  std::vector<std::string> products{}; // product keys the application may use
};

// Called synchronously by login() and check_http_registration() on the caller's thread, at most
// once per kind per call. Implementations fill `out` only when they return found. An exception
// thrown from here is treated as `unavailable`.
class device_lookup {
public:
  virtual ~device_lookup() = default;
  virtual lookup_status find_product(std::string_view product_key, product_record& out) const = 0;
  virtual lookup_status find_device(std::string_view product_key, std::string_view device_name,
                                    device_record& out) const = 0;
  virtual lookup_status find_app(std::string_view app_key, app_record& out) const = 0;
};

} // namespace thingport::auth
