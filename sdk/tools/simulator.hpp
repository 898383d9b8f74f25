// Pieces of the device simulator that need no network: triplet CSV parsing, random-walk
// properties. Pure; any thread.
#pragma once

#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "thingport/device/client.hpp"

namespace thingport::device::sim {

// One triplet per line: productKey,deviceName,deviceSecret. Blank lines and lines starting with
// '#' are skipped; a header line "productKey,deviceName,deviceSecret" is skipped. Fields are
// trimmed. On a bad line: nullopt and `error` says which line and why.
std::optional<std::vector<triplet>> parse_triplets_csv(std::string_view text, std::string& error);

// The answer of POST /api/v1/products/{pk}/devices/batch saved to a file:
// {"productKey"?,"devices":[{"deviceName","deviceSecret","productKey"?}..]}. A device without a
// productKey takes the document's, else `product_key`.
std::optional<std::vector<triplet>>
parse_batch_json(std::string_view text, std::string_view product_key, std::string& error);

// A numeric property that wanders: each step adds a uniform value in [-step, step], kept within
// [min, max], rounded to 2 decimals.
struct walk {
  std::string name;
  double value = 0;
  double step = 1;
  double min = -1e9;
  double max = 1e9;
  double next(std::mt19937_64& rng);
};

// "name=start[:step[:min:max]]"; nullopt when malformed.
std::optional<walk> parse_walk(std::string_view spec);

// The command: parses the arguments, runs the devices, prints the summary. Returns the exit code.
int run(int argc, char** argv);

// --gateway: one gateway (base.device) and its sub-devices over its link (gateway_sim.cpp).
struct gateway_run {
  options base;              // the gateway's client options
  std::vector<triplet> subs; // their triplets, created beforehand
  std::vector<walk> walks;   // each sub-device's properties
  double interval = 5;       // seconds between pack posts
  unsigned count = 1;        // pack-post rounds (every sub-device once per round)
  double duration = 0;       // seconds, then exit (0: no limit)
  bool verbose = false;
};
// Adds the sub-devices to the gateway's topology (30 a request), logs them in (batches of 50,
// waiting and retrying a batch refused with 429), prints the logins per second, then posts their
// properties by pack/post (50 a message) `count` times. Exit code 0 when all logged in and every
// post was answered 200; 3 otherwise.
int run_gateway(const gateway_run& g);

// --ota: devices that take OTA upgrades (simulator_ota.cpp).
struct ota_run {
  options base;
  std::vector<triplet> devices;
  std::string version;             // what each device informs at start
  double fail = 0;                 // the fraction that reports -2 on its first upgrade message
  unsigned workers = 4;            // download threads
  std::uint32_t block_size = 5120; // MQTT block downloads: bytes a block (1..65536)
  unsigned block_interval_ms = 0;  // MQTT block downloads: pause between blocks
  std::filesystem::path dir;       // where downloads go (each removed once checked)
  double duration = 0;             // seconds, then exit (0: no limit)
  bool verbose = false;
};
// Runs until every device has informed the new version (or the duration or a signal). Prints
// one summary line: devices, upgraded, messages, simulatedFailures, downloadErrors, bytes,
// blockResumes (MQTT block downloads: re-asks after a reconnect or a timeout),
// downloadSeconds, MBps, messageSeconds, devicesPerMinute, messagesPerSecond (upgrade messages
// received in each second from the first). Exit code 0 when all upgraded without a download
// error; 3 otherwise.
int run_ota(const ota_run& r);

} // namespace thingport::device::sim
