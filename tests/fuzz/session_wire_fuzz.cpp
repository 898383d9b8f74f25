// libFuzzer target for the messages of a session moving between nodes
// (src/cluster/session_wire.cpp): a peer's bytes are decoded like a client's. Whatever decodes
// must encode again to the same thing (a session handed on keeps every subscription and message).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/session_wire.hpp"

namespace {
[[noreturn]] void fail(const char* why) {
  std::fprintf(stderr, "fuzz_session_wire: %s\n", why);
  std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace thingport::cluster;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  if (auto c = decode_claim(body)) {
    const auto again = decode_claim(encode_claim(*c));
    if (!again || again->id != c->id || again->key != c->key || again->node != c->node ||
        again->reply != c->reply || again->clean != c->clean)
      fail("a claim does not come back");
  }
  if (auto p = decode_handover(body)) {
    const auto parts =
        encode_handover(p->id, p->node, p->key, p->present ? &p->session : nullptr, 1 << 20);
    if (parts.size() != 1)
      fail("a decoded part does not fit one part again");
    const auto again = decode_handover(parts[0]);
    if (!again || again->present != p->present || again->key != p->key ||
        (p->present && again->session != p->session))
      fail("a part does not come back");
  }
  if (auto o = decode_offer(body)) {
    const auto bodies = encode_offers(o->node, o->keys, 1 << 20);
    std::vector<std::string> keys;
    for (const auto& b : bodies) {
      const auto again = decode_offer(b);
      if (!again || again->node != o->node)
        fail("an offer does not come back");
      keys.insert(keys.end(), again->keys.begin(), again->keys.end());
    }
    if (keys != o->keys)
      fail("an offer's keys do not come back");
  }
  return 0;
}
