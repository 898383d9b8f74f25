// A gateway-style process: many devices on one io_context and one thread, each with its own
// client and thing helpers, posting readings of a local sensor (here, a counter) on a timer.
//
//   example-gateway URL SECONDS ROUNDS PK:DN:DS [PK:DN:DS ...]
//
// Each device posts {"reading":N} ROUNDS times, SECONDS apart, then the process exits.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "thingport/device/client.hpp"
#include "thingport/device/thing.hpp"

namespace asio = boost::asio;
namespace dev = thingport::device;

namespace {

struct sub_device {
  std::unique_ptr<dev::client> client;
  std::unique_ptr<dev::thing> thing;
  std::unique_ptr<asio::steady_timer> timer;
  std::string name;
  int posted = 0;
  int answered = 0;
};

} // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: " << argv[0] << " URL SECONDS ROUNDS PK:DN:DS [PK:DN:DS ...]\n";
    return 2;
  }
  const std::string url = argv[1];
  const auto period = std::chrono::milliseconds(static_cast<long>(std::stod(argv[2]) * 1000));
  const int rounds = std::stoi(argv[3]);
  asio::io_context io(1);
  std::vector<std::unique_ptr<sub_device>> devices;
  int finished = 0;
  for (int i = 4; i < argc; ++i) {
    const std::string spec = argv[i];
    const auto a = spec.find(':');
    const auto b = spec.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) {
      std::cerr << "bad triplet " << spec << " (want PK:DN:DS)\n";
      return 2;
    }
    dev::options o;
    o.url = url;
    o.device = {spec.substr(0, a), spec.substr(a + 1, b - a - 1), spec.substr(b + 1)};
    auto d = std::make_unique<sub_device>();
    d->name = o.device.device_name;
    d->client = std::make_unique<dev::client>(io.get_executor(), o); // no thread of its own
    d->thing = std::make_unique<dev::thing>(*d->client);
    d->timer = std::make_unique<asio::steady_timer>(io);
    devices.push_back(std::move(d));
  }
  // One function posts for every device; everything runs on the one thread below.
  std::function<void(sub_device&)> post = [&](sub_device& d) {
    if (d.posted == rounds)
      return;
    ++d.posted;
    d.thing->post_properties(
        {{"reading", d.posted}}, [&](std::error_code ec, const dev::alink_reply& r) {
          ++d.answered;
          std::cout << d.name << " post " << d.answered << ": "
                    << (ec ? ec.message() : "code " + std::to_string(r.code)) << std::endl;
          if (d.answered == rounds && ++finished == static_cast<int>(devices.size())) {
            for (auto& x : devices) {
              x->thing->cancel();
              x->client->stop();
            }
          }
        });
    d.timer->expires_after(period);
    d.timer->async_wait([&](boost::system::error_code ec) {
      if (!ec)
        post(d);
    });
  };
  for (auto& d : devices) {
    d->client->on_status([&d = *d, &post](const dev::status& s) {
      std::cout << d.name << " " << s.describe() << std::endl;
      if (s.state == dev::link_state::connected && d.posted == 0)
        post(d);
    });
    d->client->start();
  }
  io.run();
  return 0;
}
