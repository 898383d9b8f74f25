// Subscription index and retained store micro benchmarks.
//
//   bench_topic                                  all of them (the 1M index is built once, ~1 s)
//   bench_topic --benchmark_filter=fanout        one group
//
// The 1M index: one device per subscription, each on /pk/dev{i}/user/get, plus 301 wildcard
// filters (other products' '+' filters, a '+' branch under /pk that never reaches "user", '#' on
// a hundred devices, and one application monitor on /pk/+/user/get that every match also hits).
// Its counters: build_s (1M subscribes), heap_B_per_sub (malloc'd bytes in use, glibc mallinfo2),
// rss_B_per_sub (resident growth), nodes.
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "broker/retained_store.hpp"
#include "broker/topic_index.hpp"

namespace {

using thingport::broker::make_message;
using thingport::broker::message_ptr;
using thingport::broker::retained_store;
using thingport::broker::subscriber_id;
using thingport::broker::subscriber_match;
using thingport::broker::topic_index;

// Bytes handed out by malloc, including large blocks it serves straight from mmap.
std::size_t heap_in_use() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

std::size_t rss_bytes() {
  long pages = 0;
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    long size = 0;
    if (std::fscanf(f, "%ld %ld", &size, &pages) != 2)
      pages = 0;
    std::fclose(f);
  }
  return static_cast<std::size_t>(pages) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

std::string device_topic(int i) {
  return "/pk/dev" + std::to_string(i) + "/user/get";
}

constexpr int devices = 1'000'000;
constexpr subscriber_id monitor_id = 5'000'000;

struct big_index {
  topic_index index;
  double build_s = 0;
  double heap_per_sub = 0;
  double rss_per_sub = 0;
  std::vector<std::string> hits;   // random device topics
  std::vector<std::string> misses; // unknown devices
};

big_index& big() {
  static big_index* const b = [] {
    auto* p = new big_index;
    const std::size_t heap0 = heap_in_use();
    const std::size_t rss0 = rss_bytes();
    const auto t0 = std::chrono::steady_clock::now();
    std::string filter;
    for (int i = 0; i < devices; ++i) {
      filter = device_topic(i);
      p->index.subscribe(filter, static_cast<subscriber_id>(i), 1);
    }
    subscriber_id id = devices;
    for (int j = 0; j < 100; ++j)
      p->index.subscribe("/pk" + std::to_string(j) + "/+/user/get", id++, 1);
    for (int j = 0; j < 100; ++j)
      p->index.subscribe("/pk/+/thing/event/e" + std::to_string(j) + "/post", id++, 0);
    for (int j = 0; j < 100; ++j)
      p->index.subscribe("/pk/dev" + std::to_string(j * 9973 % devices) + "/#", id++, 0);
    p->index.subscribe("/pk/+/user/get", monitor_id, 1);
    const auto t1 = std::chrono::steady_clock::now();
    const double subs = static_cast<double>(p->index.size());
    p->build_s = std::chrono::duration<double>(t1 - t0).count();
    p->heap_per_sub = static_cast<double>(heap_in_use() - heap0) / subs;
    p->rss_per_sub = static_cast<double>(rss_bytes() - rss0) / subs;

    std::mt19937_64 rng(1);
    for (int k = 0; k < 1 << 16; ++k) {
      p->hits.push_back(device_topic(static_cast<int>(rng() % devices)));
      p->misses.push_back(device_topic(devices + static_cast<int>(rng() % devices)));
    }
    return p;
  }();
  return *b;
}

void report_build(benchmark::State& state, const big_index& b) {
  state.counters["build_s"] = b.build_s;
  state.counters["heap_B_per_sub"] = b.heap_per_sub;
  state.counters["rss_B_per_sub"] = b.rss_per_sub;
  state.counters["subs"] = static_cast<double>(b.index.size());
  state.counters["nodes"] = static_cast<double>(b.index.node_count());
}

// One PUBLISH from a random device of the million: its own subscription plus the monitor.
void BM_match_1M(benchmark::State& state) {
  big_index& b = big();
  std::vector<subscriber_match> out;
  std::size_t k = static_cast<std::size_t>(state.thread_index()) * 7919;
  std::size_t found = 0;
  for (auto _ : state) {
    out.clear();
    b.index.match(b.hits[k++ & 0xFFFF], out);
    found += out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["subs_per_match"] =
      benchmark::Counter(static_cast<double>(found) / static_cast<double>(state.iterations()),
                         benchmark::Counter::kAvgThreads);
  if (state.thread_index() == 0)
    report_build(state, b);
}
BENCHMARK(BM_match_1M)->Threads(1)->Threads(2)->UseRealTime();

// A topic nobody subscribed to except the monitor (unknown device).
void BM_match_1M_unknown_device(benchmark::State& state) {
  big_index& b = big();
  std::vector<subscriber_match> out;
  std::size_t k = 0;
  for (auto _ : state) {
    out.clear();
    b.index.match(b.misses[k++ & 0xFFFF], out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_match_1M_unknown_device);

// Subscribe and unsubscribe one more device filter in the full index (a device connecting).
void BM_subscribe_unsubscribe_1M(benchmark::State& state) {
  big_index& b = big();
  int i = devices;
  for (auto _ : state) {
    const std::string f = device_topic(i++);
    b.index.subscribe(f, 9'000'000, 1);
    b.index.unsubscribe(f, 9'000'000);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_subscribe_unsubscribe_1M);

// The same while another thread matches without pause: what a SUBSCRIBE pays when the workers
// are busy routing (why topic_index uses a writer-preferring lock: see rw_lock.hpp).
void BM_subscribe_unsubscribe_1M_while_matching(benchmark::State& state) {
  big_index& b = big();
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    std::vector<subscriber_match> out;
    for (std::size_t k = 0; !stop.load(std::memory_order_relaxed); ++k) {
      out.clear();
      b.index.match(b.hits[k & 0xFFFF], out);
    }
  });
  int i = devices;
  for (auto _ : state) {
    const std::string f = device_topic(i++);
    b.index.subscribe(f, 9'000'000, 1);
    b.index.unsubscribe(f, 9'000'000);
  }
  stop.store(true);
  reader.join();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_subscribe_unsubscribe_1M_while_matching)->UseRealTime();

// N subscribers on one filter; with overlap, the same N also on a '+' filter (dedup path).
void fanout(benchmark::State& state, bool overlap) {
  const auto n = static_cast<subscriber_id>(state.range(0));
  topic_index index;
  for (subscriber_id id = 0; id < n; ++id) {
    index.subscribe("/pk/broadcast/all", id * 13 + 1, 1);
    if (overlap)
      index.subscribe("/pk/broadcast/+", id * 13 + 1, 0);
  }
  std::vector<subscriber_match> out;
  for (auto _ : state) {
    out.clear();
    index.match("/pk/broadcast/all", out);
    benchmark::DoNotOptimize(out.data());
  }
  if (out.size() != n)
    state.SkipWithError("wrong fan-out");
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}
void BM_fanout(benchmark::State& state) {
  fanout(state, false);
}
void BM_fanout_overlapping(benchmark::State& state) {
  fanout(state, true);
}
BENCHMARK(BM_fanout)->Arg(1000)->Arg(100000);
BENCHMARK(BM_fanout_overlapping)->Arg(1000)->Arg(100000);

// N subscribers joining then leaving one filter, in random order: O(1) each at any N.
void BM_subscribe_same_filter(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<subscriber_id> ids(n);
  std::iota(ids.begin(), ids.end(), 1);
  std::shuffle(ids.begin(), ids.end(), std::mt19937_64(3));
  for (auto _ : state) {
    topic_index index;
    for (const auto id : ids)
      index.subscribe("/pk/broadcast/all", id, 1);
    for (const auto id : ids)
      index.unsubscribe("/pk/broadcast/all", id);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(2 * n));
}
BENCHMARK(BM_subscribe_same_filter)
    ->Arg(1000)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond);

// Retained store: 100k devices each with a retained status; a SUBSCRIBE to one of them, and to
// all of them through '+'.
retained_store& retained_100k() {
  static retained_store* const r = [] {
    auto* s = new retained_store;
    for (int i = 0; i < 100'000; ++i)
      s->set(make_message("/pk/dev" + std::to_string(i) + "/status", "online", 1, true));
    return s;
  }();
  return *r;
}

void BM_retained_match_exact(benchmark::State& state) {
  retained_store& r = retained_100k();
  std::vector<message_ptr> out;
  int i = 0;
  std::vector<std::string> filters;
  for (int k = 0; k < 1024; ++k)
    filters.push_back("/pk/dev" + std::to_string(k * 97) + "/status");
  for (auto _ : state) {
    out.clear();
    r.match(filters[i++ & 1023], out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_retained_match_exact);

void BM_retained_match_plus_100k(benchmark::State& state) {
  retained_store& r = retained_100k();
  std::vector<message_ptr> out;
  for (auto _ : state) {
    out.clear();
    r.match("/pk/+/status", out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
}
BENCHMARK(BM_retained_match_plus_100k)->Unit(benchmark::kMillisecond);

} // namespace

BENCHMARK_MAIN();
