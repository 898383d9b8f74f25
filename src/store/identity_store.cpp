#include "store/identity_store.hpp"

#include <string>

namespace thingport::store {

device_status status_of(const device& d, bool connected) noexcept {
  if (!d.enabled) {
    return device_status::disable;
  }
  if (connected) {
    return device_status::online;
  }
  return d.activated() ? device_status::offline : device_status::unactive;
}

bool login_is_newest(const device& d) noexcept {
  return d.last_online && (!d.last_offline || *d.last_online >= *d.last_offline);
}

std::string_view to_string(node_type t) noexcept {
  switch (t) {
  case node_type::gateway:
    return "gateway";
  case node_type::subdevice:
    return "subdevice";
  case node_type::device:
    break;
  }
  return "device";
}

std::optional<node_type> parse_node_type(std::string_view text) noexcept {
  for (const node_type t : {node_type::device, node_type::gateway, node_type::subdevice})
    if (text == to_string(t))
      return t;
  return std::nullopt;
}

std::string_view to_string(device_status s) noexcept {
  switch (s) {
  case device_status::online:
    return "ONLINE";
  case device_status::offline:
    return "OFFLINE";
  case device_status::unactive:
    return "UNACTIVE";
  case device_status::disable:
    return "DISABLE";
  }
  return "UNKNOWN";
}

} // namespace thingport::store
