// MQTT codec micro benchmarks: parse and serialize of PUBLISH (16 B, 256 B, 4 KB payloads),
// CONNECT and SUBSCRIBE. Run from a release build: build/release/bench/bench_codec
#include <benchmark/benchmark.h>

#include <cstdint>
#include <span>
#include <string>

#include "mqtt/packet.hpp"
#include "mqtt/parser.hpp"
#include "mqtt/serializer.hpp"

namespace {

using namespace thingport::mqtt;

constexpr std::string_view topic = "/sys/a1B2c3D4e5F/device-0001/thing/event/property/post";

std::span<const std::uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

connect_packet sample_connect() {
  connect_packet c;
  c.clean_session = false;
  c.keepalive = 60;
  c.client_id = "device-0001|securemode=3,signmethod=hmacsha256,timestamp=1700000000000|";
  c.username = "device-0001&a1B2c3D4e5F";
  c.password = "8b0c5b5f6c7e2f9b8a4d3e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b";
  c.will = will_message{"/a1B2c3D4e5F/device-0001/user/status", "offline", 1, false};
  return c;
}

subscribe_packet sample_subscribe() {
  return {42,
          {{"/sys/a1B2c3D4e5F/device-0001/thing/service/property/set", 1},
           {"/sys/a1B2c3D4e5F/device-0001/rrpc/request/+", 0},
           {"/a1B2c3D4e5F/device-0001/user/#", 1}}};
}

void parse_bench(benchmark::State& state, const std::string& wire) {
  for (auto _ : state) {
    parse_result r = parse(bytes(wire));
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * wire.size()));
}

void BM_ParsePublish(benchmark::State& state) {
  std::string wire;
  encode_publish(wire, topic, std::string(static_cast<std::size_t>(state.range(0)), 'p'), 1, false,
                 false, 7);
  parse_bench(state, wire);
}
BENCHMARK(BM_ParsePublish)->Arg(16)->Arg(256)->Arg(4096);

void BM_SerializePublish(benchmark::State& state) {
  const std::string payload(static_cast<std::size_t>(state.range(0)), 'p');
  std::string out;
  for (auto _ : state) {
    out.clear(); // buffer reused, as a connection's write buffer is
    encode_publish(out, topic, payload, 1, false, false, 7);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_SerializePublish)->Arg(16)->Arg(256)->Arg(4096);

void BM_SerializePublishPacket(benchmark::State& state) {
  const std::string payload(static_cast<std::size_t>(state.range(0)), 'p');
  const packet p = publish_packet{topic, payload, 1, false, false, 7};
  std::string out;
  for (auto _ : state) {
    out.clear();
    encode(p, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_SerializePublishPacket)->Arg(16)->Arg(256)->Arg(4096);

void BM_ParseConnect(benchmark::State& state) {
  std::string wire;
  encode(sample_connect(), wire);
  parse_bench(state, wire);
}
BENCHMARK(BM_ParseConnect);

void BM_SerializeConnect(benchmark::State& state) {
  const packet p = sample_connect();
  std::string out;
  for (auto _ : state) {
    out.clear();
    encode(p, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_SerializeConnect);

void BM_ParseSubscribe(benchmark::State& state) {
  std::string wire;
  encode(sample_subscribe(), wire);
  parse_bench(state, wire);
}
BENCHMARK(BM_ParseSubscribe);

void BM_SerializeSubscribe(benchmark::State& state) {
  const packet p = sample_subscribe();
  std::string out;
  for (auto _ : state) {
    out.clear();
    encode(p, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_SerializeSubscribe);

} // namespace

BENCHMARK_MAIN();
