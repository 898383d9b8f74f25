#include "broker/retained_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "naive_topic.hpp"

namespace thingport::broker {
namespace {

using test::naive_match;
using test::topic_gen;

message_ptr msg(std::string_view topic, std::string_view payload) {
  return make_message(topic, payload, 1, true);
}

// match() as a sorted list of "topic=payload".
std::vector<std::string> matched(const retained_store& store, std::string_view filter) {
  std::vector<message_ptr> out;
  store.match(filter, out);
  std::vector<std::string> r;
  for (const auto& m : out)
    r.push_back(m->topic + "=" + m->payload);
  std::sort(r.begin(), r.end());
  return r;
}

using strings = std::vector<std::string>;

TEST(retained_store, set_replace_delete) {
  retained_store store;
  store.set(msg("a/b", "1"));
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(matched(store, "a/b"), strings{"a/b=1"});
  store.set(msg("a/b", "2"));
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(matched(store, "a/b"), strings{"a/b=2"});
  EXPECT_TRUE(matched(store, "a").empty());
  EXPECT_TRUE(matched(store, "a/b/c").empty());

  store.set(msg("a/c", "")); // deleting what is not there
  EXPECT_EQ(store.size(), 1u);
  store.set(msg("a", ""));
  EXPECT_EQ(store.size(), 1u);
  store.set(nullptr);
  EXPECT_EQ(store.size(), 1u);

  store.set(msg("a/b", ""));
  EXPECT_EQ(store.size(), 0u);
  EXPECT_TRUE(matched(store, "a/b").empty());
  EXPECT_EQ(store.node_count(), 0u);
}

TEST(retained_store, keeps_the_message_object_shared) {
  retained_store store;
  const message_ptr m = msg("x", "payload");
  store.set(m);
  std::vector<message_ptr> out;
  store.match("x", out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].get(), m.get());
}

TEST(retained_store, wildcards_and_dollar_rule) {
  retained_store store;
  for (const char* t : {"a", "a/b", "a/c", "a/b/c", "/x", "/", "$SYS/x", "$SYS", "b/$x"})
    store.set(msg(t, "p"));
  EXPECT_EQ(matched(store, "a/#"), (strings{"a/b/c=p", "a/b=p", "a/c=p", "a=p"}));
  EXPECT_EQ(matched(store, "a/+"), (strings{"a/b=p", "a/c=p"}));
  EXPECT_EQ(matched(store, "+/+"), (strings{"/=p", "/x=p", "a/b=p", "a/c=p", "b/$x=p"}));
  EXPECT_EQ(matched(store, "+"), (strings{"a=p"}));
  EXPECT_EQ(matched(store, "#"),
            (strings{"/=p", "/x=p", "a/b/c=p", "a/b=p", "a/c=p", "a=p", "b/$x=p"}));
  EXPECT_EQ(matched(store, "$SYS/#"), (strings{"$SYS/x=p", "$SYS=p"}));
  EXPECT_EQ(matched(store, "$SYS/+"), (strings{"$SYS/x=p"}));
  EXPECT_EQ(matched(store, "+/x"), (strings{"/x=p"}));
  EXPECT_EQ(matched(store, "/+"), (strings{"/=p", "/x=p"}));
  EXPECT_EQ(matched(store, "+/b/#"), (strings{"a/b/c=p", "a/b=p"}));
  EXPECT_EQ(matched(store, "b/+"), (strings{"b/$x=p"}));
  EXPECT_TRUE(matched(store, "c/#").empty());
  EXPECT_EQ(store.size(), 9u);
}

TEST(retained_store, many_siblings) {
  retained_store store;
  for (int i = 0; i < 3000; ++i)
    store.set(msg("pk/dev" + std::to_string(i) + "/status", std::to_string(i)));
  std::vector<message_ptr> out;
  store.match("pk/+/status", out);
  EXPECT_EQ(out.size(), 3000u);
  EXPECT_EQ(matched(store, "pk/dev42/+"), strings{"pk/dev42/status=42"});
  for (int i = 0; i < 3000; ++i)
    store.set(msg("pk/dev" + std::to_string(i) + "/status", ""));
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(store.node_count(), 0u);
}

TEST(retained_store, agrees_with_naive_matcher) {
  for (const std::uint64_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE(seed);
    std::mt19937_64 rng(seed);
    topic_gen gen{rng, seed == 3 ? 40 : 3, seed == 2 ? 6 : 4};
    retained_store store;
    std::map<std::string, std::string> model; // topic -> payload
    for (int op = 0; op < 5000; ++op) {
      const std::string topic = gen.topic();
      const bool erase = gen.pick(3) == 0;
      const std::string payload = erase ? std::string() : std::to_string(op);
      store.set(msg(topic, payload));
      if (erase)
        model.erase(topic);
      else
        model[topic] = payload;
      if (op % 100 != 0)
        continue;
      ASSERT_EQ(store.size(), model.size());
      for (int f = 0; f < 30; ++f) {
        const std::string filter = gen.filter();
        strings expected;
        for (const auto& [t, p] : model)
          if (naive_match(filter, t))
            expected.push_back(t + "=" + p);
        std::sort(expected.begin(), expected.end());
        ASSERT_EQ(matched(store, filter), expected) << "filter '" << filter << "'";
      }
    }
    for (const auto& [t, p] : model)
      store.set(msg(t, ""));
    EXPECT_EQ(store.size(), 0u);
    EXPECT_EQ(store.node_count(), 0u);
  }
}

TEST(retained_store, concurrent_match_while_setting) {
  retained_store store;
  for (int i = 0; i < 50; ++i)
    store.set(msg("s/" + std::to_string(i), "stable"));
  std::atomic<bool> done{false};
  auto reader = [&] {
    for (int i = 0; !done.load(std::memory_order_relaxed) || i < 200; ++i) {
      std::vector<message_ptr> out;
      store.match(i % 2 ? "s/+" : "#", out);
      EXPECT_GE(out.size(), 50u);
    }
  };
  auto writer = [&] {
    std::mt19937_64 rng(9);
    for (int i = 0; i < 5000; ++i)
      store.set(msg("c/" + std::to_string(rng() % 200), rng() % 2 ? "x" : ""));
    done.store(true);
  };
  std::thread r1(reader), r2(reader), w(writer);
  r1.join();
  r2.join();
  w.join();
  std::vector<message_ptr> out;
  store.match("s/#", out);
  EXPECT_EQ(out.size(), 50u);
}

} // namespace
} // namespace thingport::broker
