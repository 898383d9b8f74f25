#include "net/listener_set.hpp"

#include <csignal>
#include <stdexcept>
#include <tuple>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace thingport::net {

listener_set::listener_set(broker::broker& b, const listener_config& c)
    : opts_(std::make_shared<transport_options>()), hup_(b.at(0).io(), SIGHUP) {
  if (c.cert_file.empty() != c.key_file.empty())
    throw std::runtime_error("[tls] cert and key must be set together");
  if (!c.cert_file.empty())
    opts_->tls = std::make_shared<tls_store>(c.cert_file, c.key_file);
  opts_->ws_origins = c.ws_origins;

  const bool tls = opts_->tls != nullptr;
  const std::tuple<listener_kind, const std::string*, bool> wanted[] = {
      {listener_kind::tcp, &c.tcp, c.proxy_tcp},
      {listener_kind::tls, tls ? &c.tls : nullptr, c.proxy_tls},
      {listener_kind::ws, &c.ws, c.proxy_ws},
      {listener_kind::wss, tls ? &c.wss : nullptr, c.proxy_wss},
      {listener_kind::auto_, &c.auto_, c.proxy_auto},
  };
  for (const auto& [kind, address, proxy] : wanted) {
    if (address == nullptr || address->empty())
      continue;
    listeners_.push_back(
        std::make_unique<listener>(b, parse_endpoint(*address), kind, opts_, proxy));
  }
  if (!tls && !c.auto_.empty())
    spdlog::warn("auto listener ({}) without [tls] cert and key: TLS clients are refused", c.auto_);
}

listener_set::~listener_set() = default;

void listener_set::start() {
  for (auto& l : listeners_)
    l->start();
  boost::asio::post(hup_.get_executor(), [this] { await_hup(); });
}

void listener_set::stop() {
  for (auto& l : listeners_)
    l->stop();
  boost::asio::post(hup_.get_executor(), [this] {
    boost::system::error_code ec;
    hup_.cancel(ec);
  });
}

void listener_set::await_hup() {
  hup_.async_wait([this](boost::system::error_code ec, int) {
    if (ec)
      return;
    if (!opts_->tls) {
      spdlog::info("SIGHUP: no TLS configured, nothing to reload");
    } else {
      // Reading and parsing two PEM files: short enough for worker 0's thread.
      try {
        opts_->tls->reload();
        spdlog::info("SIGHUP: TLS certificate and key reloaded from {}", opts_->tls->cert_file());
      } catch (const std::exception& e) {
        spdlog::error("SIGHUP: TLS reload failed, keeping the current certificate: {}", e.what());
      }
    }
    await_hup();
  });
}

} // namespace thingport::net
