// The park set tells each parked link once when its socket has input: every one of them, also
// when more are ready at once than one epoll_wait batch takes (Asio watches the set
// edge-triggered: what a batch leaves must make the set readable again).
#include "broker/park_set.hpp"

#include <chrono>
#include <vector>

#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "broker/client.hpp"
#include "null_transport.hpp"

namespace thingport::broker {
namespace {

struct fake_link final : test::null_transport {
  void parked_ready() override { ++told; }
  int told = 0;
};

struct socket_pair {
  int parked = -1, peer = -1;
  socket_pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    parked = fds[0];
    peer = fds[1];
  }
  ~socket_pair() {
    ::close(parked);
    ::close(peer);
  }
};

TEST(park_set, every_ready_link_is_told_once_however_many_at_once) {
  boost::asio::io_context io;
  park_set set(io);
  constexpr int n = 300; // more than two batches of 128
  std::vector<socket_pair> pairs(n);
  std::vector<fake_link> links(n);
  for (int i = 0; i < n; ++i)
    ASSERT_TRUE(set.add(pairs[i].parked, &links[i]));
  EXPECT_EQ(set.size(), static_cast<std::size_t>(n));
  for (auto& p : pairs) // all ready before the worker looks
    ASSERT_EQ(::write(p.peer, "x", 1), 1);
  io.run_for(std::chrono::milliseconds(300));
  for (int i = 0; i < n; ++i)
    EXPECT_EQ(links[i].told, 1) << "link " << i;
  // one shot: told again only once added again; remove() forgets a watched fd once
  for (int i = 0; i < n; ++i)
    set.remove(pairs[i].parked);
  EXPECT_EQ(set.size(), 0u);
  set.remove(pairs[0].parked); // not watched: nothing
  EXPECT_EQ(set.size(), 0u);
}

TEST(park_set, a_stopped_set_parks_nothing) {
  boost::asio::io_context io;
  park_set set(io);
  socket_pair p;
  fake_link link;
  set.stop();
  EXPECT_FALSE(set.add(p.parked, &link));
  EXPECT_EQ(set.size(), 0u);
}

} // namespace
} // namespace thingport::broker
