#include "app/bootstrap.hpp"

#include <cstdio>
#include <stdexcept>

#include <fmt/format.h>

#include "auth/credentials.hpp"

namespace thingport::app {

namespace {
constexpr std::string_view demo_product_name = "demo";
constexpr std::string_view demo_device_name = "demo-device";

[[noreturn]] void fail(std::string_view what, const std::error_code& ec) {
  throw std::runtime_error(fmt::format("demo device: {}: {}", what, ec.message()));
}
} // namespace

std::optional<demo_device> ensure_demo_device(platform::directory& dir) {
  auto& st = dir.store();
  auto products = st.list_products(store::page{0, store::max_page_limit});
  if (!products)
    fail("listing products", products.error());
  if (products->empty()) {
    auto p = dir.create_product(store::new_product{std::string(demo_product_name), false, {}, {}});
    if (!p)
      fail("creating the product", p.error());
    auto d =
        dir.create_device(p->product_key, store::new_device{std::string(demo_device_name), {}});
    if (!d)
      fail("creating the device", d.error());
    return demo_device{p->product_key, p->product_secret, d->device_name, d->device_secret};
  }
  for (const auto& p : *products) {
    if (p.name != demo_product_name)
      continue;
    auto d = st.get_device(p.product_key, demo_device_name);
    if (d)
      return demo_device{p.product_key, p.product_secret, d->device_name, d->device_secret};
  }
  return std::nullopt;
}

void print_demo(const demo_device& d, const config& c) {
  auth::device_credential_options opts;
  opts.client_id = "demo";
  const auto cred = auth::device_credentials(d.product_key, d.device_name, d.device_secret, opts);
  std::string host = "127.0.0.1", port = "1883";
  if (const auto colon = c.listeners.tcp.rfind(':'); colon != std::string::npos) {
    port = c.listeners.tcp.substr(colon + 1);
    const auto h = c.listeners.tcp.substr(0, colon);
    if (h != "0.0.0.0" && h != "[::]" && !h.empty())
      host = h;
  }
  std::printf("thingport: demo device\n"
              "  productKey    %s\n  productSecret %s\n  deviceName    %s\n  deviceSecret  %s\n"
              "  connect with: mosquitto_pub -h %s -p %s -V mqttv311 -i '%s' -u '%s' -P '%s' "
              "-t '/%s/%s/user/update' -m 'hello'\n",
              d.product_key.c_str(), d.product_secret.c_str(), d.device_name.c_str(),
              d.device_secret.c_str(), host.c_str(), port.c_str(), cred.client_id.c_str(),
              cred.username.c_str(), cred.password.c_str(), d.product_key.c_str(),
              d.device_name.c_str());
  std::fflush(stdout);
}

} // namespace thingport::app
