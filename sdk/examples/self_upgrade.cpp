// A device that upgrades itself over OTA (docs/ota.md): it logs in, informs its version, waits
// for an upgrade message, downloads the firmware next to itself (resuming with Range when a
// download is cut), checks its size, MD5 and SHA-256, reports progress, and restarts as the new
// version: it runs itself again (exec) with that version, which connects and informs it. A real
// device would write the file to its other slot and boot it; the steps on the wire are the same.
// One JSON line per step on stdout.
//
//   example-self_upgrade URL PRODUCT_KEY DEVICE_NAME DEVICE_SECRET VERSION DIR [CUT_AFTER]
//
// DIR: where the firmware is written (DIR/firmware.bin). CUT_AFTER: each download request stops
// after that many bytes, so that the next resumes with Range (a test of the resume).
// Exit 0 once the new version is informed; 1 when no upgrade came within 30 s or it failed.
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>

#include <boost/json.hpp>

#include "thingport/device/client.hpp"
#include "thingport/device/ota.hpp"

namespace dev = thingport::device;
namespace json = boost::json;

namespace {

std::mutex out_mutex;
void say(json::object o) {
  std::lock_guard lock(out_mutex);
  std::cout << json::serialize(o) << std::endl;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 7) {
    std::cerr << "usage: " << argv[0]
              << " URL PRODUCT_KEY DEVICE_NAME DEVICE_SECRET VERSION DIR [CUT_AFTER]\n";
    return 2;
  }
  dev::options opts;
  opts.url = argv[1];
  opts.device = {argv[2], argv[3], argv[4]};
  opts.client_id = std::string(argv[3]) + "-" + std::to_string(::getpid());
  const std::string version = argv[5];
  const std::filesystem::path dir = argv[6];
  const std::uint64_t cut = argc > 7 ? std::strtoull(argv[7], nullptr, 10) : 0;
  const bool restarted = std::getenv("SELF_UPGRADE_RESTARTED") != nullptr;

  dev::client device(opts);
  dev::ota ota(device);
  std::mutex mu;
  std::condition_variable cv;
  std::optional<dev::upgrade_info> pending;
  ota.on_upgrade([&](const dev::upgrade_info& u) { // on the I/O thread: hand it over
    std::lock_guard lock(mu);
    pending = u;
    cv.notify_all();
  });
  device.start();
  if (!device.wait_connected(std::chrono::seconds(10))) {
    say({{"step", "error"}, {"message", "not connected"}});
    return 1;
  }
  ota.inform(version);
  say({{"step", "informed"}, {"version", version}, {"restarted", restarted}});
  if (restarted) { // the new version is running and has said so: done
    device.stop();
    return 0;
  }

  std::unique_lock lock(mu);
  if (!cv.wait_for(lock, std::chrono::seconds(30), [&] { return pending.has_value(); })) {
    say({{"step", "error"}, {"message", "no upgrade came"}});
    return 1;
  }
  const auto u = *pending;
  lock.unlock();
  say({{"step", "upgrade"},
       {"version", u.version},
       {"size", u.size},
       {"signMethod", u.sign_method}});
  ota.progress(0, "downloading");
  dev::download_request req;
  req.url = u.url;
  req.file = dir / "firmware.bin";
  req.size = u.size;
  req.md5 = u.md5;
  req.sha256 = u.sha256;
  req.cut_after = cut;
  int reported = 0;
  req.progress = [&](std::uint64_t have, std::uint64_t total) {
    const int step = total == 0 ? 0 : static_cast<int>(have * 90 / total);
    if (step >= reported + 30) { // a few steps, not one per piece
      reported = step;
      ota.progress(step, "downloading");
    }
  };
  // Should the cut requests run out of attempts, the rest is fetched uncut.
  auto first = dev::download_file(req);
  auto result = first;
  if (cut > 0 && first.error) {
    req.cut_after = 0;
    result = dev::download_file(req);
    result.first_start = first.first_start;
    result.attempts += first.attempts;
  }
  say({{"step", "downloaded"},
       {"ok", !result.error},
       {"error", result.error.message()},
       {"bytes", result.bytes},
       {"attempts", result.attempts},
       {"firstStart", result.first_start},
       {"lastStart", result.last_start}});
  if (result.error) {
    ota.progress(result.error == dev::errc::digest_mismatch ? -3 : -2, result.error.message());
    device.stop();
    return 1;
  }
  ota.progress(100, "verified");
  device.stop();
  // "Reboot" into the new version.
  say({{"step", "restarting"}, {"version", u.version}});
  ::setenv("SELF_UPGRADE_RESTARTED", "1", 1);
  std::string new_version = u.version;
  std::vector<char*> args(argv, argv + argc);
  args[5] = new_version.data();
  args.push_back(nullptr);
  ::execv("/proc/self/exe", args.data());
  say({{"step", "error"}, {"message", "exec failed"}});
  return 1;
}
