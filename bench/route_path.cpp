// The per-message path of a PUBLISH through the broker's own pieces, for an instruction count
// that does not depend on timers: parse (mqtt::parse) → message (broker::make_message, as the
// client does) → match (broker::topic_index, 10,000 device subscriptions plus a '+' monitor) →
// serialize for every subscriber (mqtt::encode_publish into a reused output buffer, as
// client::send_publish does). No sockets, no worker: the syscalls and Asio are not counted.
//
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null bench_route_path 1000
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null bench_route_path 11000
//   instructions per message = (Ir(11000) - Ir(1000)) / 10000   (bench/callgrind_route.sh)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "broker/message.hpp"
#include "broker/topic_index.hpp"
#include "mqtt/parser.hpp"
#include "mqtt/serializer.hpp"

namespace {

using namespace thingport;

// One message, start to end; returns the bytes serialized (so nothing is optimized away).
[[gnu::noinline]] std::size_t route_one(std::span<const std::uint8_t> wire,
                                        const mqtt::parser_options& opts,
                                        const broker::topic_index& index,
                                        std::vector<broker::subscriber_match>& matches,
                                        std::string& out) {
  const auto r = mqtt::parse(wire, opts);
  if (r.state != mqtt::parse_result::status::packet)
    std::abort();
  const auto& p = std::get<mqtt::publish_packet>(r.pkt);
  const auto m = broker::make_message(p.topic, p.payload, p.qos, p.retain, 0, 1);
  matches.clear();
  index.match(m->topic, matches);
  for (const auto& mt : matches) {
    const std::uint8_t qos = mt.qos < m->qos ? mt.qos : m->qos;
    mqtt::encode_publish(out, m->topic, m->payload, qos, false, false, qos ? 7 : 0);
  }
  const std::size_t n = out.size();
  if (out.size() > 60000)
    out.clear(); // the connection's write took it
  return n;
}

} // namespace

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? std::atol(argv[1]) : 100000;
  broker::topic_index index;
  for (std::uint64_t i = 0; i < 10000; ++i)
    index.subscribe("/pk/dev" + std::to_string(i) + "/user/get", i + 10, 1);
  index.subscribe("/pk/+/user/get", 5, 0); // an application watching every device

  mqtt::parser_options opts;
  opts.side = mqtt::parser_options::role::server;
  std::string wire;
  mqtt::encode_publish(wire, "/pk/dev4242/user/get", std::string(64, 'p'), 1, false, false, 9);
  const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(wire.data()),
                                            wire.size());
  std::vector<broker::subscriber_match> matches;
  std::string out;
  out.reserve(65536);
  std::size_t total = 0;
  for (long i = 0; i < iterations; ++i)
    total += route_one(bytes, opts, index, matches, out);
  std::printf("%ld messages, %zu bytes serialized\n", iterations, total);
  return 0;
}
