// A gateway with sub-devices behind it (docs/protocol.md "Gateways"), with the SDK's gateway
// API: one client for the gateway; the sub-devices are added to its topology (each signed with
// its secret), logged in through it in one batch, then each posts readings of a local sensor
// (here, a counter) through the gateway's link on a timer and answers property sets.
//
//   example-gateway URL SECONDS ROUNDS GW_PK:GW_DN:GW_DS PK:DN:DS [PK:DN:DS ...]
//
// The first triplet is the gateway's, the others its sub-devices' (at most 30). Each sub-device
// posts {"reading":N} ROUNDS times, SECONDS apart, then the process logs them out, reads its
// topology back (thing.topo.get) and exits.
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>

#include "thingport/device/client.hpp"
#include "thingport/device/gateway.hpp"
#include "thingport/device/thing.hpp"

namespace asio = boost::asio;
namespace dev = thingport::device;

namespace {

struct sub_device {
  dev::triplet id;
  std::unique_ptr<dev::thing> thing; // over the gateway's link, once logged in
  std::unique_ptr<asio::steady_timer> timer;
  int posted = 0;
  int answered = 0;
};

std::optional<dev::triplet> parse(const std::string& spec) {
  const auto a = spec.find(':');
  const auto b = spec.find(':', a + 1);
  if (a == std::string::npos || b == std::string::npos)
    return std::nullopt;
  return dev::triplet{spec.substr(0, a), spec.substr(a + 1, b - a - 1), spec.substr(b + 1)};
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 6 || argc > 5 + 30) {
    std::cerr << "usage: " << argv[0]
              << " URL SECONDS ROUNDS GW_PK:GW_DN:GW_DS PK:DN:DS [PK:DN:DS ...]\n";
    return 2;
  }
  const auto period = std::chrono::milliseconds(static_cast<long>(std::stod(argv[2]) * 1000));
  const int rounds = std::stoi(argv[3]);
  std::vector<dev::triplet> ids;
  for (int i = 4; i < argc; ++i) {
    auto t = parse(argv[i]);
    if (!t) {
      std::cerr << "bad triplet " << argv[i] << " (want PK:DN:DS)\n";
      return 2;
    }
    if (i > 4)
      ids.push_back(*t);
  }
  asio::io_context io(1);
  dev::options o;
  o.url = argv[1];
  o.device = *parse(argv[4]);
  dev::client gw_client(io.get_executor(), o);
  dev::gateway gw(gw_client);
  // After the io_context and the client: their timers and helpers go first.
  std::vector<std::unique_ptr<sub_device>> subs;
  for (const auto& t : ids)
    subs.push_back(std::make_unique<sub_device>(sub_device{t, nullptr, nullptr}));
  int finished = 0;
  int exit_code = 0;

  auto finish = [&] {
    std::vector<dev::device_ref> refs;
    for (auto& s : subs) {
      s->thing->cancel();
      refs.push_back({s->id.product_key, s->id.device_name});
    }
    gw.batch_logout(refs, [&](std::error_code, const dev::alink_reply& r) {
      std::cout << "logout: code " << r.code << std::endl;
      gw.get_topo([&](std::error_code ec, const dev::alink_reply& t) {
        const auto* held = ec ? nullptr : t.data.if_array();
        std::cout << "topo: " << (held ? held->size() : 0) << " sub-devices" << std::endl;
        gw.cancel();
        gw_client.stop();
      });
    });
  };
  std::function<void(sub_device&)> post = [&](sub_device& d) {
    if (d.posted == rounds)
      return;
    ++d.posted;
    d.thing->post_properties(
        {{"reading", d.posted}}, [&](std::error_code ec, const dev::alink_reply& r) {
          ++d.answered;
          std::cout << d.id.device_name << " post " << d.answered << ": "
                    << (ec ? ec.message() : "code " + std::to_string(r.code)) << std::endl;
          if (d.answered == rounds && ++finished == static_cast<int>(subs.size()))
            finish();
        });
    d.timer->expires_after(period);
    d.timer->async_wait([&](boost::system::error_code ec) {
      if (!ec)
        post(d);
    });
  };
  auto fail = [&](const char* what, std::error_code ec, const dev::alink_reply& r) {
    std::cerr << what << ": " << (ec ? ec.message() : "code " + std::to_string(r.code)) << " "
              << r.message << std::endl;
    exit_code = 1;
    gw.cancel();
    gw_client.stop();
  };
  // Topology, then one batch login, then each sub-device speaks through the gateway.
  auto start = [&] {
    gw.add_topo(ids, [&](std::error_code ec, const dev::alink_reply& r) {
      if (ec || r.code != 200)
        return fail("topo add", ec, r);
      gw.batch_login(ids, [&](std::error_code ec2, const dev::alink_reply& r2) {
        if (ec2 || r2.code != 200)
          return fail("login", ec2, r2);
        for (auto& s : subs) {
          s->thing = std::make_unique<dev::thing>(gw_client, s->id.product_key, s->id.device_name);
          s->thing->on_property_set([name = s->id.device_name](const boost::json::object& p) {
            std::cout << name << " set " << boost::json::serialize(p) << std::endl;
            return dev::alink_result{};
          });
          s->timer = std::make_unique<asio::steady_timer>(io);
          post(*s);
        }
      });
    });
  };
  gw.on_notice([](std::string_view method, const boost::json::value& params) {
    std::cout << "notice " << method << " " << boost::json::serialize(params) << std::endl;
  });
  bool started = false;
  gw_client.on_status([&](const dev::status& s) {
    std::cout << "gateway " << s.describe() << std::endl;
    if (s.state == dev::link_state::connected && !started) {
      started = true;
      start();
    }
  });
  gw_client.start();
  io.run();
  return exit_code;
}
