// The per-thread event loop of thingport-load: non-blocking sockets on one edge-triggered epoll,
// the CONNECT/SUBSCRIBE handshake, publishing (as fast as the sockets take it, or paced), and
// the receive side's bookkeeping (sequence bitsets, latency). Encoding and parsing are
// thingport's own codec (src/mqtt).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <utility>

#include "load.hpp"
#include "mqtt/parser.hpp"
#include "mqtt/serializer.hpp"

namespace thingport::load {

namespace {

constexpr std::size_t stamp_size = 24;         // send time, publisher, sequence number
constexpr std::size_t max_pending = 64 * 1024; // unsent bytes a QoS 0 publisher may queue

std::array<std::uint8_t, 256 * 1024>& scratch() {
  thread_local std::array<std::uint8_t, 256 * 1024> buf;
  return buf;
}

mqtt::parser_options client_parser() {
  mqtt::parser_options p;
  p.side = mqtt::parser_options::role::client;
  p.max_payload = 16u << 20;
  p.max_remaining_length = (16u << 20) + 65536 + 4;
  return p;
}

} // namespace

std::uint64_t now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

loop::loop(shared_state& s, std::vector<connection> conns)
    : s_(s), o_(*s.opts), conns_(std::move(conns)),
      payload_(std::max(o_.payload, stamp_size), 'x') {
  ep_ = epoll_create1(EPOLL_CLOEXEC);
  for (std::uint32_t i = 0; i < conns_.size(); ++i)
    if (conns_[i].what == role::publisher)
      publishers_.push_back(i);
  window_ = std::max<std::size_t>(1, o_.window / std::max(1u, o_.threads));
  if (s_.total_publishers != 0)
    my_rate_ = o_.rate * static_cast<double>(publishers_.size()) /
               static_cast<double>(s_.total_publishers);
}

loop::~loop() {
  for (auto& c : conns_)
    if (c.fd >= 0)
      ::close(c.fd);
  if (ep_ >= 0)
    ::close(ep_);
}

void loop::run() {
  std::array<epoll_event, 512> evs{};
  bool running = false;
  for (;;) {
    const auto ph = static_cast<phase>(s_.current.load(std::memory_order_acquire));
    if (ph == phase::done)
      break;
    if (ph == phase::run && !running) {
      running = true;
      t0_ = s_.t0_ns.load(std::memory_order_relaxed);
      measure_from_ = s_.measure_from_ns.load(std::memory_order_relaxed);
      send_until_ = s_.send_until_ns.load(std::memory_order_relaxed);
    }
    std::uint64_t now = now_ns();
    start_connects(now);
    if (ph == phase::run)
      pump(now);
    const int n = epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), 1);
    now = now_ns();
    for (int i = 0; i < n; ++i)
      on_event(conns_[evs[static_cast<std::size_t>(i)].data.u32],
               evs[static_cast<std::size_t>(i)].events, now);
    if (sent_ != 0)
      s_.sent.fetch_add(std::exchange(sent_, 0), std::memory_order_relaxed);
    if (recv_ != 0)
      s_.received.fetch_add(std::exchange(recv_, 0), std::memory_order_relaxed);
    if (unacked_ != 0)
      s_.unacked.fetch_add(static_cast<std::uint64_t>(std::exchange(unacked_, 0)),
                           std::memory_order_relaxed);
  }
  for (auto& c : conns_) {
    if (c.fd >= 0)
      ::close(c.fd);
    c.fd = -1;
  }
}

void loop::start_connects(std::uint64_t now) {
  while (opening_ < window_ && next_open_ < conns_.size())
    open(conns_[next_open_++], now);
}

void loop::open(connection& c, std::uint64_t now) {
  c.started_ns = now;
  if (res_.first_connect_ns == 0)
    res_.first_connect_ns = now;
  ++opening_;
  c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0)
    return fail(c, std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (c.source != 0) {
    ::setsockopt(c.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl((127u << 24) | c.source);
    if (::bind(c.fd, reinterpret_cast<const sockaddr*>(&src), sizeof src) != 0)
      return fail(c, std::string("bind: ") + std::strerror(errno));
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u32 = static_cast<std::uint32_t>(&c - conns_.data());
  if (epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev) != 0)
    return fail(c, std::string("epoll_ctl: ") + std::strerror(errno));
  const int r = ::connect(c.fd, reinterpret_cast<const sockaddr*>(&s_.target), sizeof s_.target);
  if (r == 0)
    return on_connected(c, now);
  if (errno != EINPROGRESS)
    fail(c, std::string("connect: ") + std::strerror(errno));
}

void loop::on_event(connection& c, std::uint32_t events, std::uint64_t now) {
  if (c.state == conn_state::closed)
    return;
  if (c.state == conn_state::connecting) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0)
      return;
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0)
      return fail(c, std::string("connect: ") + std::strerror(err));
    on_connected(c, now);
    if (c.state == conn_state::closed)
      return;
  }
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
    read(c);
    if (c.state == conn_state::closed)
      return;
  }
  if ((events & EPOLLOUT) != 0) {
    c.blocked = false;
    flush(c);
  }
}

void loop::on_connected(connection& c, std::uint64_t) {
  c.state = conn_state::connack;
  c.out.append(c.connect_bytes);
  std::string().swap(c.connect_bytes);
  flush(c);
}

void loop::read(connection& c) {
  auto& buf = scratch();
  for (;;) {
    const ssize_t n = ::read(c.fd, buf.data(), buf.size());
    if (n == 0)
      return fail(c, "closed by the broker");
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        break;
      if (errno == EINTR)
        continue;
      return fail(c, std::string("read: ") + std::strerror(errno));
    }
    const std::uint64_t now = now_ns();
    std::size_t used = 0;
    if (c.in.empty()) {
      const std::span<const std::uint8_t> fresh(buf.data(), static_cast<std::size_t>(n));
      handle(c, fresh, now, used);
      if (c.state == conn_state::closed)
        return;
      c.in.assign(fresh.begin() + static_cast<std::ptrdiff_t>(used), fresh.end());
    } else {
      c.in.insert(c.in.end(), buf.data(), buf.data() + n);
      handle(c, c.in, now, used);
      if (c.state == conn_state::closed)
        return;
      c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(used));
    }
  }
  if (c.out.size() > c.out_off)
    flush(c);
}

void loop::handle(connection& c, std::span<const std::uint8_t> bytes, std::uint64_t now,
                  std::size_t& used) {
  static const mqtt::parser_options popts = client_parser();
  while (used < bytes.size()) {
    auto r = mqtt::parse(bytes.subspan(used), popts);
    if (r.state == mqtt::parse_result::status::need_more)
      return;
    if (r.state == mqtt::parse_result::status::error)
      return fail(c, "bad packet from the broker: " + r.ec.message());
    used += r.consumed;
    if (const auto* p = std::get_if<mqtt::publish_packet>(&r.pkt)) {
      on_publish(c, p->payload, p->qos, p->packet_id, now);
    } else if (const auto* a = std::get_if<mqtt::puback_packet>(&r.pkt)) {
      (void)a;
      if (c.unacked > 0) {
        --c.unacked;
        --unacked_;
      }
    } else if (const auto* k = std::get_if<mqtt::connack_packet>(&r.pkt)) {
      if (c.state != conn_state::connack)
        return fail(c, "unexpected CONNACK");
      if (k->code != mqtt::connack_code::accepted)
        return fail(c, "CONNACK refused, code " + std::to_string(static_cast<int>(k->code)));
      if (c.what == role::subscriber) {
        c.state = conn_state::suback;
        mqtt::encode(mqtt::subscribe_packet{1, {{c.filter, static_cast<std::uint8_t>(o_.qos)}}},
                     c.out);
      } else {
        mark_ready(c, now);
      }
    } else if (const auto* sa = std::get_if<mqtt::suback_packet>(&r.pkt)) {
      if (sa->return_codes.empty() || sa->return_codes[0] == mqtt::suback_failure)
        return fail(c, "SUBSCRIBE refused");
      if (c.state == conn_state::suback)
        mark_ready(c, now);
    }
  }
}

void loop::on_publish(connection& c, std::string_view payload, std::uint8_t qos, std::uint16_t pid,
                      std::uint64_t now) {
  if (qos > 0)
    mqtt::encode(mqtt::puback_packet{pid}, c.out);
  if (c.what != role::subscriber || payload.size() < stamp_size) {
    ++c.foreign;
    return;
  }
  std::uint64_t sent_at = 0, seq = 0;
  std::uint32_t pub = 0;
  std::memcpy(&sent_at, payload.data(), 8);
  std::memcpy(&pub, payload.data() + 8, 4);
  std::memcpy(&seq, payload.data() + 16, 8);
  const std::uint32_t idx = pub - c.pub_base;
  if (pub < c.pub_base || idx >= c.seen.size()) {
    ++c.foreign;
    return;
  }
  auto& bits = c.seen[idx];
  const std::size_t word = static_cast<std::size_t>(seq >> 6);
  if (word >= bits.size())
    bits.resize(std::max(word + 1, bits.size() * 2));
  const std::uint64_t mask = std::uint64_t{1} << (seq & 63);
  ++recv_;
  if ((bits[word] & mask) != 0) {
    ++c.dups;
    return;
  }
  bits[word] |= mask;
  ++c.got;
  if (sent_at >= measure_from_ && now >= sent_at)
    res_.latency.record(now - sent_at);
  if (now >= measure_from_ && now < send_until_)
    ++res_.in_window;
}

void loop::flush(connection& c) {
  while (c.out_off < c.out.size()) {
    const ssize_t n =
        ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
    if (n > 0) {
      c.out_off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      c.blocked = true;
      break;
    }
    if (n < 0 && errno == EINTR)
      continue;
    return fail(c, std::string("send: ") + std::strerror(errno));
  }
  if (c.out_off == c.out.size()) {
    c.out.clear();
    c.out_off = 0;
  } else if (c.out_off > (1u << 20)) {
    c.out.erase(0, c.out_off);
    c.out_off = 0;
  }
}

void loop::fail(connection& c, const std::string& why) {
  if (c.state == conn_state::closed)
    return;
  if (c.state == conn_state::ready) {
    if (static_cast<phase>(s_.current.load(std::memory_order_relaxed)) != phase::done)
      s_.closed_early.fetch_add(1, std::memory_order_relaxed);
  } else {
    --opening_;
    s_.failed.fetch_add(1, std::memory_order_relaxed);
  }
  if (res_.errors.size() < 8 &&
      std::find(res_.errors.begin(), res_.errors.end(), why) == res_.errors.end())
    res_.errors.push_back(why);
  if (c.fd >= 0)
    ::close(c.fd);
  c.fd = -1;
  c.state = conn_state::closed;
  unacked_ -= c.unacked;
  c.unacked = 0;
}

void loop::mark_ready(connection& c, std::uint64_t now) {
  c.state = conn_state::ready;
  --opening_;
  res_.connect.record(now - c.started_ns);
  res_.last_ready_ns = std::max(res_.last_ready_ns, now);
  s_.ready.fetch_add(1, std::memory_order_relaxed);
}

bool loop::can_publish(const connection& c) const {
  if (c.state != conn_state::ready)
    return false;
  if (o_.qos == 0)
    return c.out.size() - c.out_off < max_pending;
  return c.unacked < o_.inflight;
}

void loop::publish(connection& c, std::uint64_t now) {
  std::memcpy(payload_.data(), &now, 8);
  std::memcpy(payload_.data() + 8, &c.id, 4);
  std::memcpy(payload_.data() + 16, &c.seq, 8);
  std::uint16_t pid = 0;
  if (o_.qos > 0) {
    pid = c.next_pid++;
    if (c.next_pid == 0)
      c.next_pid = 1;
    ++c.unacked;
    ++unacked_;
  }
  mqtt::encode_publish(c.out, c.topic, payload_, static_cast<std::uint8_t>(o_.qos), false, false,
                       pid);
  ++c.seq;
  ++sent_;
}

void loop::pump(std::uint64_t now) {
  if (now >= send_until_ || publishers_.empty())
    return;
  if (o_.rate <= 0) {
    // QoS 0 has no flow control end to end: unpaced publishers stop while `outstanding`
    // messages are on their way, so "as fast as possible" is what the broker delivers, not
    // what it reads and drops.
    std::uint64_t budget = ~0ull;
    if (o_.qos == 0 && o_.outstanding != 0) {
      const std::uint64_t due = (s_.sent.load(std::memory_order_relaxed) + sent_) * s_.fan;
      const std::uint64_t got = s_.received.load(std::memory_order_relaxed) + recv_;
      const std::uint64_t out = due > got ? due - got : 0;
      budget = out >= o_.outstanding ? 0 : (o_.outstanding - out + s_.fan - 1) / s_.fan;
    }
    for (const auto i : publishers_) {
      if (budget == 0)
        break;
      auto& c = conns_[i];
      if (c.blocked)
        continue;
      for (std::size_t k = 0; k < o_.burst && budget != 0 && can_publish(c); ++k, --budget)
        publish(c, now);
      if (c.out.size() > c.out_off)
        flush(c);
    }
    return;
  }
  const auto due = static_cast<std::uint64_t>(my_rate_ * static_cast<double>(now - t0_) / 1e9);
  while (paced_ < due) {
    std::size_t tries = 0;
    while (tries < publishers_.size() && !can_publish(conns_[publishers_[rr_]])) {
      rr_ = (rr_ + 1) % publishers_.size();
      ++tries;
    }
    if (tries == publishers_.size()) { // every window is full: the broker is behind
      res_.skipped += due - paced_;
      paced_ = due;
      break;
    }
    publish(conns_[publishers_[rr_]], now);
    rr_ = (rr_ + 1) % publishers_.size();
    ++paced_;
  }
  for (const auto i : publishers_) {
    auto& c = conns_[i];
    if (!c.blocked && c.out.size() > c.out_off)
      flush(c);
  }
}

} // namespace thingport::load
