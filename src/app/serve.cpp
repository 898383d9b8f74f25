#include "app/serve.hpp"

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "app/bootstrap.hpp"
#include "broker/broker.hpp"
#include "broker/device_policy.hpp"
#include "broker/directory.hpp"
#include "net/listener.hpp"
#include "store/sqlite_identity_store.hpp"

namespace thingport::app {

namespace {

// Tests and scripts wait for these lines to learn the bound ports.
void announce(const char* kind, const boost::asio::ip::tcp::endpoint& ep) {
  std::printf("thingport: listening %s %s\n", kind,
              (ep.address().is_v6() ? "[" + ep.address().to_string() + "]"
                                    : ep.address().to_string())
                      .append(":" + std::to_string(ep.port()))
                      .c_str());
  std::fflush(stdout);
}

}  // namespace

int serve(const config& c) {
  spdlog::set_level(spdlog::level::from_str(c.log_level));
  std::filesystem::create_directories(c.data_dir);

  broker::options o;
  o.workers = c.workers;
  o.max_payload = c.limits.max_payload;
  o.max_queued = c.limits.offline_queue;
  store::sqlite_identity_store identities(std::filesystem::path(c.data_dir) / "identity.db");
  broker::directory dir(identities);
  dir.load();
  if (auto demo = ensure_demo_device(dir)) print_demo(*demo, c);
  spdlog::info("{} devices loaded", dir.device_count());

  broker::device_policy_options po;
  po.login.allow_anonymous = c.auth.allow_anonymous;
  po.login.keepalive_min = c.limits.keepalive_min;
  po.login.keepalive_max = c.limits.keepalive_max;
  po.deny_subscribe = c.auth.deny_subscribe;
  po.connect_rate = c.limits.connect_rate;
  auto policy = std::make_shared<broker::device_policy>(dir, po);
  broker::broker b(o, policy);
  policy->attach(b);

  std::vector<std::unique_ptr<net::tcp_listener>> listeners;
  if (!c.listeners.tcp.empty()) {
    listeners.push_back(
        std::make_unique<net::tcp_listener>(b, net::parse_endpoint(c.listeners.tcp)));
    announce("tcp", listeners.back()->local_endpoint());
  }
  for (auto [name, addr] : {std::pair{"ws", &c.listeners.ws}, std::pair{"auto", &c.listeners.auto_}}) {
    if (!addr->empty()) spdlog::warn("{} listener ({}) is not available in this build", name, *addr);
  }
  if (!c.tls.cert.empty()) spdlog::warn("TLS listeners are not available in this build");

  b.start();
  for (auto& l : listeners) l->start();
  spdlog::info("thingport serving with {} workers", b.worker_count());

  boost::asio::io_context main_io;
  boost::asio::signal_set signals(main_io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int sig) {
    spdlog::info("signal {}: shutting down", sig);
  });
  main_io.run();

  for (auto& l : listeners) l->stop();
  b.stop();
  policy->flush();
  spdlog::info("stopped");
  return 0;
}

}  // namespace thingport::app
