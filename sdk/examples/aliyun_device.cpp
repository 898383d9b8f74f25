// The device of the Aliyun IoT quick start (a Node.js MQTT client there), in C++ on the SDK:
// log in with the device triplet, post temperature and humidity every 5 s with QoS 1, print the
// platform's reply to each post, and obey commands: property sets (applied and answered) and
// messages on the custom topic /{pk}/{dn}/user/get.
//
//   example-aliyun_device URL PRODUCT_KEY DEVICE_NAME DEVICE_SECRET [COUNT [CA_FILE [SECONDS]]]
//
// COUNT posts then exit (0: run until Ctrl-C); CA_FILE for mqtts:// and wss:// URLs; SECONDS
// between posts (default 5).
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include <boost/json/serialize.hpp>

#include "thingport/device/client.hpp"
#include "thingport/device/thing.hpp"

namespace dev = thingport::device;

namespace {
std::atomic<bool> interrupted{false};
}

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: " << argv[0]
              << " URL PRODUCT_KEY DEVICE_NAME DEVICE_SECRET [COUNT [CA_FILE [SECONDS]]]\n";
    return 2;
  }
  dev::options opts;
  opts.url = argv[1];
  opts.device = {argv[2], argv[3], argv[4]};
  const long count = argc > 5 ? std::atol(argv[5]) : 0;
  if (argc > 6)
    opts.ca_file = argv[6];
  const double seconds = argc > 7 ? std::atof(argv[7]) : 5.0;
  opts.clean_session = false; // like the docs' example: keep subscriptions and queued messages
  opts.keepalive = std::chrono::seconds(60);

  std::signal(SIGINT, [](int) { interrupted = true; });
  std::signal(SIGTERM, [](int) { interrupted = true; });

  std::mutex out_mutex; // the I/O thread and main both print
  auto say = [&out_mutex](const std::string& line) {
    std::lock_guard lock(out_mutex);
    std::cout << line << std::endl;
  };

  dev::client device(opts); // owns its I/O thread; callbacks run there
  dev::thing thing(device);
  double temperature = 21.5;
  double humidity = 40;
  std::atomic<long> replies_ok{0};

  device.on_status([&say](const dev::status& s) { say("status: " + s.describe()); });
  device.subscribe("/" + opts.device.product_key + "/" + opts.device.device_name + "/user/get", 1,
                   [&say](const dev::message& m) {
                     say("command on " + std::string(m.topic) + ": " + std::string(m.payload));
                   });
  thing.on_property_set([&say](const boost::json::object& params) {
    say("property set: " + boost::json::serialize(params));
    return dev::alink_result{}; // 200: applied
  });
  device.start();
  if (!device.wait_connected(std::chrono::seconds(30)))
    say("not connected yet; posts are buffered");

  for (long n = 0; (count == 0 || n < count) && !interrupted; ++n) {
    boost::json::object params{{"temperature", temperature}, {"humidity", humidity}};
    say("post " + boost::json::serialize(params));
    thing.post_properties(
        params, [&say, &replies_ok](std::error_code ec, const dev::alink_reply& r) {
          if (ec)
            return say("post failed: " + ec.message());
          if (r.code == 200)
            ++replies_ok;
          say("post_reply id=" + r.id + " code=" + std::to_string(r.code) + " " + r.message);
        });
    temperature += 0.1;
    humidity = humidity >= 60 ? 40 : humidity + 1;
    const auto until = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(static_cast<long>(seconds * 1000));
    while (std::chrono::steady_clock::now() < until && !interrupted) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50)); // main thread only: Ctrl-C
    }
  }
  thing.cancel();
  device.stop();
  say("done: " + std::to_string(replies_ok.load()) + " posts answered with 200");
  return 0;
}
