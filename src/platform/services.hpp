// What the HTTP API (and through it the CLI and the console) acts on: the device platform's
// services over the MQTT core. The API asks these and never reaches into the core's sessions,
// registry or workers; the core's own statistics are read through core() for /metrics.
//
// Threads: every member may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "broker/options.hpp"
#include "platform/core.hpp"
#include "platform/directory.hpp"
#include "platform/topology_state.hpp"

namespace thingport::platform {

class thing_service;
class sub_sessions;

// Sends gateway gpk/gdn thing/topo/change {"status","subList"} through `b` (services::
// topo_change below says the statuses); nothing when `subs` is empty.
void send_topo_change(broker::broker& b, std::string_view gpk, std::string_view gdn, int status,
                      const std::vector<store::device_ref>& subs);

class services {
public:
  // `thing` may be null (the thing layer is off: its endpoints answer 503).
  services(broker::broker& core, directory& dir, thing_service* thing) noexcept
      : core_(core), dir_(dir), thing_(thing) {}

  directory& devices() noexcept { return dir_; }
  thing_service* thing() noexcept { return thing_; }
  const broker::broker& core() const noexcept { return core_; }
  const broker::options& limits() const noexcept;

  // A message id unique on this node.
  std::uint64_t next_message_id() noexcept;
  // Routes `m` to every session subscribed to its topic; `done(stored)` as broker::publish.
  void publish(
      message_ptr m, std::function<void(bool stored)> done = [](bool) {});
  // The same for a message addressed to device pk/dn: routed where the device's session lives,
  // so that it reaches the device in one trip between threads.
  void publish_to_device(
      std::string_view pk, std::string_view dn, message_ptr m,
      std::function<void(bool stored)> done = [](bool) {});
  // Closes device pk/dn's connection with `r` (disabled, deleted: `discard` also deletes its
  // session and queued messages). Asynchronous.
  void disconnect_device(std::string_view pk, std::string_view dn, close_reason r, bool discard);
  // Sub-device sessions through gateways (combine/login); null until set.
  void set_sub_sessions(sub_sessions* s) noexcept { subs_ = s; }
  // Logs sub-device pk/dn out of any gateway but gpk/gdn (empty: any), after a topology change.
  void end_sub_session(std::string_view pk, std::string_view dn, std::string_view gpk = {},
                       std::string_view gdn = {});

  // Found sub-devices and the gateways' login bound; null until set.
  void set_gateway_state(gateway_state* g) noexcept { gateways_ = g; }
  gateway_state* gateways() noexcept { return gateways_; }
  // Sends gateway gpk/gdn thing/topo/change {"status","subList"} (docs/protocol.md "Gateways"):
  // status 0 sub-devices added, 1 removed, 2 enabled, 8 disabled. Asynchronous; a gateway not
  // connected (without a persistent session) does not hear it.
  static constexpr int topo_added = 0, topo_removed = 1, topo_enabled = 2, topo_disabled = 8;
  void topo_change(std::string_view gpk, std::string_view gdn, int status,
                   const std::vector<store::device_ref>& subs);
  // Sub-device pk/dn was enabled or disabled: its gateway, if it has one, hears topo/change.
  void sub_enabled_changed(std::string_view pk, std::string_view dn, bool enabled);
  // Sends gateway gpk/gdn thing/topo/add/notify [{"productKey","deviceName"}]: the cloud asks it
  // to add these sub-devices. Returns the request's id.
  std::string topo_add_notify(std::string_view gpk, std::string_view gdn,
                              const std::vector<store::device_ref>& subs);

private:
  broker::broker& core_;
  directory& dir_;
  thing_service* thing_;
  sub_sessions* subs_ = nullptr;
  gateway_state* gateways_ = nullptr;
};

} // namespace thingport::platform
