// Decoding a PUBLISH must not allocate: topic and payload are views into the input.
// Counts every global operator new in this binary (a binary of its own for that reason).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "mqtt/parser.hpp"
#include "mqtt/serializer.hpp"

namespace {
std::atomic<long> allocations{0};
} // namespace

// GCC at -O1+ pairs the malloc inside our operator new with the free inside our operator delete
// and warns about a mismatch that is exactly what a replacement allocator does.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n))
    return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace thingport::mqtt {
namespace {

long allocations_during(auto&& f) {
  const long before = allocations.load();
  f();
  return allocations.load() - before;
}

TEST(MqttAllocation, CounterWorks) {
  std::string s;
  EXPECT_GT(allocations_during([&] { s = std::string(100, 'x'); }), 0);
}

TEST(MqttAllocation, PublishDecodeDoesNotAllocate) {
  std::string wire;
  encode_publish(wire, "devices/abc/telemetry", std::string(4096, 'p'), 1, false, false, 7);
  encode_publish(wire, "t", "", 0, true, false, 0);
  const std::span<const std::uint8_t> in(reinterpret_cast<const std::uint8_t*>(wire.data()),
                                         wire.size());
  std::size_t decoded = 0;
  const long n = allocations_during([&] {
    std::span<const std::uint8_t> rest = in;
    while (!rest.empty()) {
      const parse_result r = parse(rest);
      if (r.state != parse_result::status::packet)
        break;
      decoded += std::get<publish_packet>(r.pkt).payload.size() + 1;
      rest = rest.subspan(r.consumed);
    }
    // Partial and failing inputs do not allocate either.
    (void)parse(in.first(10));
    (void)parse(in.first(1));
  });
  EXPECT_EQ(decoded, 4096u + 1 + 1);
  EXPECT_EQ(n, 0);
}

TEST(MqttAllocation, EncodePublishAllocatesAtMostOnce) {
  std::string out;
  const std::string payload(4096, 'p');
  EXPECT_LE(allocations_during([&] { encode_publish(out, "a/b", payload, 1, false, false, 1); }),
            1);
  EXPECT_EQ(out.size(), publish_size(3, 4096, 1));
}

} // namespace
} // namespace thingport::mqtt
