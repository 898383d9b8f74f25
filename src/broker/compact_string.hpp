// Text a connection keeps for its whole life but reads rarely (a client's id), in one pointer.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace thingport::broker {

// An owned string as one pointer to a block holding its length (32 bits) and then its bytes;
// no block when empty. 8 bytes in every connection where a std::string takes 32 (memory per idle
// connection, docs/performance.md); the block is the size a std::string's would be.
class compact_string {
public:
  compact_string() noexcept = default;
  explicit compact_string(std::string_view s) : block_(make(s)) {}
  compact_string(const compact_string& o) : block_(make(o.view())) {}
  compact_string(compact_string&& o) noexcept : block_(std::exchange(o.block_, nullptr)) {}
  compact_string& operator=(compact_string o) noexcept {
    std::swap(block_, o.block_);
    return *this;
  }
  ~compact_string() { delete[] block_; }

  std::string_view view() const noexcept {
    if (block_ == nullptr)
      return {};
    std::uint32_t n = 0;
    std::memcpy(&n, block_, sizeof n);
    return {block_ + sizeof n, n};
  }
  bool empty() const noexcept { return block_ == nullptr; }

private:
  static char* make(std::string_view s) {
    if (s.empty())
      return nullptr;
    if (s.size() > std::numeric_limits<std::uint32_t>::max())
      throw std::length_error("compact_string: longer than 4 GiB");
    const auto n = static_cast<std::uint32_t>(s.size());
    auto* b = new char[sizeof n + s.size()];
    std::memcpy(b, &n, sizeof n);
    std::memcpy(b + sizeof n, s.data(), s.size());
    return b;
  }

  char* block_ = nullptr;
};

} // namespace thingport::broker
