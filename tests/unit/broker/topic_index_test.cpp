#include "broker/topic_index.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "naive_topic.hpp"

namespace thingport::broker {
namespace {

using test::naive_match;
using test::topic_gen;

using result = std::vector<std::pair<subscriber_id, int>>;

// match() as a sorted list of (id, qos); fails the test on a duplicate id.
result matched(const topic_index& index, std::string_view topic) {
  std::vector<subscriber_match> out;
  index.match(topic, out);
  result r;
  for (const auto& m : out)
    r.emplace_back(m.id, m.qos);
  std::sort(r.begin(), r.end());
  for (std::size_t i = 1; i < r.size(); ++i)
    EXPECT_NE(r[i - 1].first, r[i].first) << "duplicate subscriber for " << topic;
  return r;
}

TEST(topic_index, literal_and_wildcards) {
  topic_index index;
  index.subscribe("a/b", 1, 0);
  index.subscribe("a/+", 2, 1);
  index.subscribe("a/#", 3, 2);
  index.subscribe("#", 4, 0);
  index.subscribe("+/+", 5, 1);
  index.subscribe("+", 6, 0);
  index.subscribe("+/#", 7, 0);

  EXPECT_EQ(matched(index, "a/b"), (result{{1, 0}, {2, 1}, {3, 2}, {4, 0}, {5, 1}, {7, 0}}));
  EXPECT_EQ(matched(index, "a"), (result{{3, 2}, {4, 0}, {6, 0}, {7, 0}})); // '#' takes parent
  EXPECT_EQ(matched(index, "a/b/c"), (result{{3, 2}, {4, 0}, {7, 0}}));
  EXPECT_EQ(matched(index, "b/b"), (result{{4, 0}, {5, 1}, {7, 0}}));
  EXPECT_EQ(index.size(), 7u);
}

TEST(topic_index, empty_levels) {
  topic_index index;
  index.subscribe("/", 1, 0);
  index.subscribe("+/+", 2, 0);
  index.subscribe("/+", 3, 0);
  index.subscribe("a//b", 4, 0);
  index.subscribe("a/+/b", 5, 0);
  index.subscribe("+", 6, 0);
  EXPECT_EQ(matched(index, "/"), (result{{1, 0}, {2, 0}, {3, 0}}));
  EXPECT_EQ(matched(index, "/x"), (result{{2, 0}, {3, 0}}));
  EXPECT_EQ(matched(index, "a//b"), (result{{4, 0}, {5, 0}}));
  EXPECT_EQ(matched(index, "a/b"), (result{{2, 0}}));
  EXPECT_TRUE(matched(index, "a/b/").empty());
}

TEST(topic_index, dollar_topics_skip_leading_wildcards) {
  topic_index index;
  index.subscribe("#", 1, 0);
  index.subscribe("+/x", 2, 0);
  index.subscribe("+/#", 3, 0);
  index.subscribe("$SYS/#", 4, 0);
  index.subscribe("$SYS/+", 5, 0);
  index.subscribe("a/+", 6, 0);
  EXPECT_EQ(matched(index, "$SYS/x"), (result{{4, 0}, {5, 0}}));
  EXPECT_EQ(matched(index, "$SYS"), (result{{4, 0}}));
  EXPECT_EQ(matched(index, "a/$x"), (result{{1, 0}, {3, 0}, {6, 0}})); // '$' only counts first
  EXPECT_EQ(matched(index, "b/x"), (result{{1, 0}, {2, 0}, {3, 0}}));
}

TEST(topic_index, overlapping_filters_give_each_subscriber_once_at_highest_qos) {
  topic_index index;
  index.subscribe("a/b", 1, 0);
  index.subscribe("a/+", 1, 2);
  index.subscribe("#", 1, 1);
  index.subscribe("a/#", 1, 1);
  index.subscribe("a/b", 2, 1);
  index.subscribe("#", 2, 0);
  EXPECT_EQ(matched(index, "a/b"), (result{{1, 2}, {2, 1}}));
  EXPECT_EQ(matched(index, "a"), (result{{1, 1}, {2, 0}}));

  // Enough overlapping entries to take the hashed dedup path (more than 16).
  for (subscriber_id id = 100; id < 140; ++id) {
    index.subscribe("x/y", id, static_cast<std::uint8_t>(id % 3));
    index.subscribe("x/+", id, static_cast<std::uint8_t>((id + 1) % 3));
    index.subscribe("+/y", id, 0);
  }
  result expected{{1, 1}, {2, 0}};
  for (subscriber_id id = 100; id < 140; ++id)
    expected.emplace_back(id, std::max(id % 3, (id + 1) % 3));
  EXPECT_EQ(matched(index, "x/y"), expected);
}

TEST(topic_index, match_appends_without_clearing) {
  topic_index index;
  index.subscribe("a", 7, 1);
  index.subscribe("#", 7, 2);
  index.subscribe("+", 8, 0);
  std::vector<subscriber_match> out{{7, 0}, {99, 1}}; // earlier entries are left alone
  index.match("a", out);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].id, 7u);
  EXPECT_EQ(out[0].qos, 0);
  EXPECT_EQ(out[1].id, 99u);
  std::sort(out.begin() + 2, out.end(),
            [](const subscriber_match& a, const subscriber_match& b) { return a.id < b.id; });
  EXPECT_EQ(out[2].id, 7u);
  EXPECT_EQ(out[2].qos, 2);
  EXPECT_EQ(out[3].id, 8u);
}

TEST(topic_index, subscribe_replaces_qos_and_unsubscribe_reports_presence) {
  topic_index index;
  EXPECT_TRUE(index.subscribe("a/b", 1, 0));
  EXPECT_FALSE(index.subscribe("a/b", 1, 2));
  EXPECT_EQ(matched(index, "a/b"), (result{{1, 2}}));
  EXPECT_EQ(index.size(), 1u);
  EXPECT_FALSE(index.unsubscribe("a/b", 2));
  EXPECT_FALSE(index.unsubscribe("a/c", 1));
  EXPECT_FALSE(index.unsubscribe("a", 1));
  EXPECT_FALSE(index.unsubscribe("a/b/c", 1));
  EXPECT_TRUE(index.unsubscribe("a/b", 1));
  EXPECT_FALSE(index.unsubscribe("a/b", 1));
  EXPECT_TRUE(matched(index, "a/b").empty());
}

TEST(topic_index, unsubscribe_prunes_empty_nodes) {
  topic_index index;
  index.subscribe("a/b/c", 1, 0);
  EXPECT_EQ(index.node_count(), 3u);
  index.subscribe("a/b", 2, 0);
  index.subscribe("a/+/#", 3, 0);
  EXPECT_EQ(index.node_count(), 5u);
  index.unsubscribe("a/b/c", 1);
  EXPECT_EQ(index.node_count(), 4u); // a, b (still subscribed), +, #
  index.unsubscribe("a/+/#", 3);
  EXPECT_EQ(index.node_count(), 2u);
  index.unsubscribe("a/b", 2);
  EXPECT_EQ(index.node_count(), 0u);
  EXPECT_EQ(index.size(), 0u);

  // Wide nodes: a thousand children of one node, removed in random order.
  std::mt19937_64 rng(7);
  std::vector<std::string> filters;
  for (int i = 0; i < 1000; ++i)
    filters.push_back("p/dev" + std::to_string(i) + (i % 2 ? "/user/get" : "/+/get"));
  for (std::size_t i = 0; i < filters.size(); ++i)
    EXPECT_TRUE(index.subscribe(filters[i], i, 1));
  EXPECT_EQ(index.node_count(), 1 + 1000 * 3u);
  std::shuffle(filters.begin(), filters.end(), rng);
  for (std::size_t i = 0; i < filters.size(); ++i) {
    const auto id = std::stoul(filters[i].substr(5));
    EXPECT_TRUE(index.unsubscribe(filters[i], id));
    if (i % 100 == 0) {
      for (std::size_t j = i + 1; j < std::min(filters.size(), i + 20); ++j) {
        const std::string topic = filters[j].substr(0, filters[j].find('/', 2)) + "/user/get";
        ASSERT_EQ(matched(index, topic).size(), 1u) << topic;
      }
    }
  }
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.node_count(), 0u);
}

TEST(topic_index, thousands_of_subscribers_on_one_filter) {
  topic_index index;
  std::mt19937_64 rng(11);
  std::vector<subscriber_id> ids(20000);
  std::iota(ids.begin(), ids.end(), 1000);
  std::shuffle(ids.begin(), ids.end(), rng);
  for (const auto id : ids)
    ASSERT_TRUE(index.subscribe("fan/out", id, static_cast<std::uint8_t>(id % 2)));
  index.subscribe("fan/#", 5, 2);
  EXPECT_EQ(matched(index, "fan/out").size(), ids.size() + 1);

  std::shuffle(ids.begin(), ids.end(), rng);
  const std::size_t keep = 777;
  for (std::size_t i = keep; i < ids.size(); ++i)
    ASSERT_TRUE(index.unsubscribe("fan/out", ids[i]));
  ids.resize(keep);
  for (std::size_t i = 0; i < keep; i += 3) // QoS upgrade in place
    EXPECT_FALSE(index.subscribe("fan/out", ids[i], 2));
  result expected{{5, 2}};
  for (std::size_t i = 0; i < keep; ++i)
    expected.emplace_back(ids[i], i % 3 == 0 ? 2 : ids[i] % 2);
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(matched(index, "fan/out"), expected);

  // The same subscribers also on an overlapping filter: the large dedup path.
  for (std::size_t i = 0; i < keep; ++i)
    index.subscribe("fan/+", ids[i], 1);
  for (auto& [id, qos] : expected)
    qos = std::max(qos, id == 5 ? 2 : 1);
  EXPECT_EQ(matched(index, "fan/out"), expected);
  for (std::size_t i = 0; i < keep; ++i) {
    EXPECT_TRUE(index.unsubscribe("fan/+", ids[i]));
    EXPECT_TRUE(index.unsubscribe("fan/out", ids[i]));
  }
  EXPECT_EQ(matched(index, "fan/out"), (result{{5, 2}}));
  EXPECT_TRUE(index.unsubscribe("fan/#", 5));
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.node_count(), 0u);
}

struct random_case {
  const char* name;
  int alphabet;
  int max_levels;
  int ids;
  int ops;
  std::uint64_t seed;
};

class topic_index_random : public ::testing::TestWithParam<random_case> {};

// Random subscribe/unsubscribe sequences, checked after every step batch against a model run
// through the naive matcher; at the end everything is unsubscribed and the tree must be empty.
TEST_P(topic_index_random, agrees_with_naive_matcher) {
  const random_case& c = GetParam();
  std::mt19937_64 rng(c.seed);
  topic_gen gen{rng, c.alphabet, c.max_levels};
  topic_index index;
  std::map<std::pair<std::string, subscriber_id>, int> model; // (filter, id) -> qos

  auto check = [&](int topics) {
    ASSERT_EQ(index.size(), model.size());
    for (int t = 0; t < topics; ++t) {
      const std::string topic = gen.topic();
      std::map<subscriber_id, int> best;
      for (const auto& [key, qos] : model)
        if (naive_match(key.first, topic)) {
          auto [it, fresh] = best.emplace(key.second, qos);
          if (!fresh)
            it->second = std::max(it->second, qos);
        }
      const result expected(best.begin(), best.end());
      ASSERT_EQ(matched(index, topic), expected) << "topic '" << topic << "'";
    }
  };

  for (int op = 0; op < c.ops; ++op) {
    const auto id = static_cast<subscriber_id>(gen.pick(c.ids));
    if (gen.pick(10) < 6 || model.empty()) {
      const std::string filter = gen.filter();
      const int qos = gen.pick(3);
      const bool fresh = model.count({filter, id}) == 0;
      model[{filter, id}] = qos;
      ASSERT_EQ(index.subscribe(filter, id, static_cast<std::uint8_t>(qos)), fresh) << filter;
    } else if (gen.pick(4) == 0) {
      const std::string filter = gen.filter(); // probably not subscribed
      const bool present = model.erase({filter, id}) == 1;
      ASSERT_EQ(index.unsubscribe(filter, id), present) << filter;
    } else {
      auto it = std::next(model.begin(), gen.pick(static_cast<int>(model.size())));
      ASSERT_TRUE(index.unsubscribe(it->first.first, it->first.second)) << it->first.first;
      model.erase(it);
    }
    if (op % 250 == 0)
      check(40);
    if (HasFatalFailure())
      return;
  }
  check(400);

  std::vector<std::pair<std::string, subscriber_id>> left;
  for (const auto& entry : model)
    left.push_back(entry.first);
  std::shuffle(left.begin(), left.end(), rng);
  for (std::size_t i = 0; i < left.size(); ++i) {
    ASSERT_TRUE(index.unsubscribe(left[i].first, left[i].second));
    model.erase(left[i]);
    if (i % 500 == 0)
      check(10);
  }
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.node_count(), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    cases, topic_index_random,
    ::testing::Values(
        // Few levels, few ids: heavy overlap, small subscriber lists, deep dedup.
        random_case{"narrow", 3, 4, 30, 6000, 1}, random_case{"narrow_deep", 2, 7, 20, 6000, 2},
        // Many distinct levels: nodes with dozens of children (hashed child tables).
        random_case{"wide", 60, 3, 50, 8000, 3},
        // Few filters, many ids: long subscriber lists with an id index.
        random_case{"crowded", 1, 2, 3000, 12000, 4}),
    [](const auto& p) { return std::string(p.param.name); });

// Workers match while another thread subscribes and unsubscribes. Stable subscriptions must
// always be seen with their QoS, churned ones may come and go, nothing twice. Run under TSan too.
TEST(topic_index, concurrent_match_while_subscribing) {
  topic_index index;
  constexpr int stable = 40;
  for (int k = 0; k < stable; ++k) {
    index.subscribe("s/" + std::to_string(k) + "/t", k, static_cast<std::uint8_t>(k % 3));
    index.subscribe("s/+/t", 1000, 1);
  }
  std::atomic<bool> done{false};
  std::atomic<long> matches{0};

  auto reader = [&](int seed) {
    std::vector<subscriber_match> out;
    for (int i = 0; !done.load(std::memory_order_relaxed) || i < 2000; ++i) {
      const int k = (i * 7 + seed) % stable;
      out.clear();
      index.match("s/" + std::to_string(k) + "/t", out);
      std::vector<subscriber_id> ids;
      bool saw_stable = false;
      bool saw_shared = false;
      for (const auto& m : out) {
        ids.push_back(m.id);
        if (m.id == static_cast<subscriber_id>(k)) {
          saw_stable = true;
          EXPECT_EQ(m.qos, k % 3);
        }
        if (m.id == 1000) {
          saw_shared = true;
          EXPECT_EQ(m.qos, 1);
        }
      }
      EXPECT_TRUE(saw_stable && saw_shared);
      std::sort(ids.begin(), ids.end());
      EXPECT_TRUE(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
      matches.fetch_add(1, std::memory_order_relaxed);
    }
  };

  auto writer = [&] {
    std::mt19937_64 rng(5);
    std::vector<std::pair<std::string, subscriber_id>> live;
    for (int i = 0; i < 20000; ++i) {
      if (live.empty() || rng() % 2 == 0) {
        // Stable ids also join other filters, at QoS 0 so their matched QoS never changes.
        const subscriber_id id = rng() % 3 == 0 ? rng() % stable : 2000 + rng() % 3000;
        const auto k = rng() % stable;
        std::string filter;
        switch (rng() % 4) {
        case 0:
          filter = "s/#";
          break;
        case 1:
          filter = "s/+/t";
          break;
        case 2:
          filter = k == id ? "s/#" : "s/" + std::to_string(k) + "/t";
          break;
        default:
          filter = "c/" + std::to_string(rng() % 500) + "/x";
          break;
        }
        if (index.subscribe(filter, id, id < stable ? 0 : 2))
          live.emplace_back(filter, id);
      } else {
        const std::size_t at = rng() % live.size();
        EXPECT_TRUE(index.unsubscribe(live[at].first, live[at].second));
        live[at] = live.back();
        live.pop_back();
      }
    }
    for (const auto& [filter, id] : live)
      EXPECT_TRUE(index.unsubscribe(filter, id));
    done.store(true);
  };

  std::vector<std::thread> threads;
  for (int r = 0; r < 3; ++r)
    threads.emplace_back(reader, r);
  threads.emplace_back(writer);
  for (auto& t : threads)
    t.join();
  EXPECT_GT(matches.load(), 0);
  EXPECT_EQ(index.size(), stable + 1u);
}

} // namespace
} // namespace thingport::broker
