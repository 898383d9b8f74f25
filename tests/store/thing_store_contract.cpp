// The thing store contract, part 1: properties, events, group commit, retention, bad input.
// Part 2 (shadow, device info, desired values, downlinks, deleting a device) is in
// thing_store_contract_more.cpp.
#include "thing_store_contract.hpp"

#include <string>
#include <vector>

using namespace std::string_literals;

namespace thingport::store::test {

namespace {

property_value pv(std::string id, std::string value, std::int64_t ms) {
  return {.identifier = std::move(id), .value = std::move(value), .time = at_ms(ms)};
}

event_record ev(std::string id, std::string output, std::int64_t ms) {
  return {
      .identifier = std::move(id), .type = "info", .output = std::move(output), .time = at_ms(ms)};
}

std::vector<std::string> values_of(const std::vector<property_value>& v) {
  std::vector<std::string> out;
  for (const auto& x : v) {
    out.push_back(x.value);
  }
  return out;
}

const timestamp now = at_ms(1'000'000);

} // namespace

TEST_P(ThingStoreContract, LatestAndHistoryOfProperties) {
  const std::vector<property_value> post{pv("Temp", "21.5", 100), pv("Power", "\"on\"", 100),
                                         pv("Temp", "22", 200)};
  TP_ASSERT_OK(store().append_properties("pk", "dev1", post, now));
  TP_ASSERT_OK(store().append_properties("pk", "dev1", std::vector{pv("Temp", "23", 300)}, now));

  auto latest = store().latest_properties("pk", "dev1");
  TP_ASSERT_OK(latest);
  EXPECT_EQ(*latest,
            (std::vector<property_value>{pv("Power", "\"on\"", 100), pv("Temp", "23", 300)}));

  EXPECT_EQ(values_of(history("Temp")), (std::vector<std::string>{"23", "22", "21.5"}));
  EXPECT_EQ(values_of(history(
                "Temp", {.from = at_ms(0), .to = at_ms(500), .limit = 100, .ascending = true})),
            (std::vector<std::string>{"21.5", "22", "23"}));
  EXPECT_EQ(values_of(history("Temp", {.from = at_ms(150), .to = at_ms(300), .limit = 100})),
            (std::vector<std::string>{"23", "22"})); // both ends inclusive
  EXPECT_EQ(values_of(history("Temp", {.from = at_ms(0), .to = timestamp::max(), .limit = 1})),
            (std::vector<std::string>{"23"}));
  EXPECT_TRUE(history("Nothing").empty());
  // Another device's data is its own.
  auto other = store().latest_properties("pk", "dev2");
  TP_ASSERT_OK(other);
  EXPECT_TRUE(other->empty());
}

TEST_P(ThingStoreContract, OldValuesGoToHistoryButDoNotMoveLatestBack) {
  TP_ASSERT_OK(store().append_properties("pk", "dev1", std::vector{pv("Temp", "30", 500)}, now));
  // A history post of older values.
  TP_ASSERT_OK(store().append_properties(
      "pk", "dev1", std::vector{pv("Temp", "10", 100), pv("Temp", "20", 200)}, now));
  auto latest = store().latest_properties("pk", "dev1");
  TP_ASSERT_OK(latest);
  EXPECT_EQ(latest->at(0), pv("Temp", "30", 500));
  EXPECT_EQ(values_of(history("Temp")), (std::vector<std::string>{"30", "20", "10"}));
  // Same time: the later write wins.
  TP_ASSERT_OK(store().append_properties("pk", "dev1", std::vector{pv("Temp", "31", 500)}, now));
  EXPECT_EQ(store().latest_properties("pk", "dev1")->at(0).value, "31");
}

TEST_P(ThingStoreContract, APostOf200ValuesIsOneTransaction) {
  std::vector<property_value> post;
  for (int i = 0; i < 200; ++i) {
    post.push_back(pv("P" + std::to_string(i), std::to_string(i), 1000 + i));
  }
  TP_ASSERT_OK(store().append_properties("pk", "dev1", post, now));
  EXPECT_EQ(store().latest_properties("pk", "dev1")->size(), 200U);

  // One bad value: nothing of the post is written.
  post[150].identifier = "bad id";
  for (auto& p : post) {
    p.value = "\"second\"";
  }
  TP_EXPECT_ERR(store().append_properties("pk", "dev1", post, now), thing_errc::bad_identifier);
  for (const auto& p : *store().latest_properties("pk", "dev1")) {
    EXPECT_NE(p.value, "\"second\"") << p.identifier;
  }
}

TEST_P(ThingStoreContract, UnknownDevicesAreNotFoundAndGetNothing) {
  TP_EXPECT_ERR(store().append_properties("pk", "ghost", std::vector{pv("Temp", "1", 1)}, now),
                errc::not_found);
  TP_EXPECT_ERR(store().append_events("pk", "ghost", std::vector{ev("E", "{}", 1)}, now),
                errc::not_found);
  TP_EXPECT_ERR(store().set_desired("nopk", "dev1", "Temp", "1", now), errc::not_found);
  auto latest = store().latest_properties("pk", "ghost");
  TP_ASSERT_OK(latest);
  EXPECT_TRUE(latest->empty());
}

TEST_P(ThingStoreContract, BadInputIsRefusedAndNothingWritten) {
  const std::vector<property_value> good{pv("Temp", "1", 1)};
  TP_EXPECT_ERR(store().append_properties("p/k", "dev1", good, now), errc::bad_product_key);
  TP_EXPECT_ERR(store().append_properties("pk", "d+v", good, now), errc::bad_device_name);
  TP_EXPECT_ERR(store().append_properties("pk", "dev1", std::vector{pv("", "1", 1)}, now),
                thing_errc::bad_identifier);
  TP_EXPECT_ERR(
      store().append_properties("pk", "dev1", std::vector{pv(std::string(51, 'a'), "1", 1)}, now),
      thing_errc::bad_identifier);
  TP_EXPECT_ERR(store().append_properties("pk", "dev1", std::vector{pv("Temp", "", 1)}, now),
                thing_errc::bad_value);
  TP_EXPECT_ERR(store().append_properties("pk", "dev1", std::vector{pv("Temp", "1\0"s, 1)}, now),
                thing_errc::bad_value);
  TP_EXPECT_ERR(store().append_properties(
                    "pk", "dev1",
                    std::vector{pv("Temp", std::string(max_thing_value_bytes + 1, '1'), 1)}, now),
                thing_errc::bad_value);
  std::vector<property_value> too_many(max_thing_batch + 1, pv("Temp", "1", 1));
  TP_EXPECT_ERR(store().append_properties("pk", "dev1", too_many, now), thing_errc::too_many);
  TP_EXPECT_ERR(store().property_history("pk", "dev1", "Temp", {.from = at_ms(5), .to = at_ms(4)}),
                thing_errc::bad_range);
  TP_EXPECT_ERR(store().property_history("pk", "dev1", "Temp", {.limit = 0}), errc::bad_page);
  TP_EXPECT_ERR(store().property_history("pk", "dev1", "Temp", {.limit = max_page_limit + 1}),
                errc::bad_page);
  TP_EXPECT_ERR(store().property_history("pk", "dev1", "a.b", {}), thing_errc::bad_identifier);
  TP_EXPECT_ERR(store().events("pk", "dev1", "a b", {}), thing_errc::bad_identifier);
  TP_EXPECT_ERR(store().append_events("pk", "dev1", std::vector{ev("E", "", 1)}, now),
                thing_errc::bad_value);
  auto latest = store().latest_properties("pk", "dev1");
  TP_ASSERT_OK(latest);
  EXPECT_TRUE(latest->empty());
}

TEST_P(ThingStoreContract, CountRetentionKeepsTheLastReceived) {
  reopen({.max_values = 3,
          .max_events = 2,
          .max_age = std::chrono::milliseconds{0},
          .max_downlinks = 1000,
          .max_downlink_age = std::chrono::milliseconds{0}});
  for (int i = 1; i <= 5; ++i) {
    TP_ASSERT_OK(store().append_properties(
        "pk", "dev1", std::vector{pv("Temp", std::to_string(i), i * 10), pv("Other", "0", i)},
        now));
  }
  EXPECT_EQ(values_of(history("Temp")), (std::vector<std::string>{"5", "4", "3"}));
  EXPECT_EQ(history("Other").size(), 3U);
  // Several values of one property in one post.
  TP_ASSERT_OK(store().append_properties("pk", "dev1",
                                         std::vector{pv("Temp", "6", 60), pv("Temp", "7", 70),
                                                     pv("Temp", "8", 80), pv("Temp", "9", 90)},
                                         now));
  EXPECT_EQ(values_of(history("Temp")), (std::vector<std::string>{"9", "8", "7"}));

  for (int i = 1; i <= 4; ++i) {
    TP_ASSERT_OK(
        store().append_events("pk", "dev1", std::vector{ev("Alarm", std::to_string(i), i)}, now));
  }
  TP_ASSERT_OK(store().append_events("pk", "dev1", std::vector{ev("Other", "{}", 1)}, now));
  auto alarms = store().events("pk", "dev1", "Alarm", {});
  TP_ASSERT_OK(alarms);
  ASSERT_EQ(alarms->size(), 2U);
  EXPECT_EQ(alarms->at(0).output, "4");
  EXPECT_EQ(alarms->at(1).output, "3");
}

TEST_P(ThingStoreContract, AgeRetentionOnWriteAndOnPrune) {
  reopen({.max_values = 0,
          .max_events = 0,
          .max_age = std::chrono::milliseconds{1000},
          .max_downlinks = 0,
          .max_downlink_age = std::chrono::milliseconds{0}});
  TP_ASSERT_OK(store().append_properties(
      "pk", "dev1",
      std::vector{pv("Temp", "old", 100), pv("Temp", "new", 5000), pv("Hum", "old", 100)},
      at_ms(5000)));
  // Written against now = 5000: the value at 100 is older than 1 s and is gone at once.
  EXPECT_EQ(values_of(history("Temp")), (std::vector<std::string>{"new"}));
  TP_ASSERT_OK(store().append_events(
      "pk", "dev1", std::vector{ev("E", "{}", 100), ev("E", "{}", 4500)}, at_ms(1000)));
  EXPECT_EQ(store().events("pk", "dev1", "E", {})->size(), 2U);
  // prune() sweeps every series, also the ones not written since.
  auto removed = store().prune(at_ms(6000));
  TP_ASSERT_OK(removed);
  EXPECT_EQ(*removed, 2U); // E at 100, E at 4500 (Hum's value went at write time)
  EXPECT_EQ(values_of(history("Temp")), (std::vector<std::string>{"new"}));
  EXPECT_TRUE(store().events("pk", "dev1", "E", {})->empty());
  // The latest value is never pruned.
  EXPECT_EQ(store().latest_properties("pk", "dev1")->size(), 2U);
}

TEST_P(ThingStoreContract, Events) {
  TP_ASSERT_OK(store().append_events("pk", "dev1",
                                     std::vector{ev("Alarm", R"({"level":1})", 100),
                                                 ev("Door", R"({"open":1})", 150),
                                                 ev("Alarm", R"({"level":2})", 200)},
                                     now));
  auto all = store().events("pk", "dev1", "", {});
  TP_ASSERT_OK(all);
  ASSERT_EQ(all->size(), 3U);
  EXPECT_EQ(all->at(0).output, R"({"level":2})");
  EXPECT_EQ(all->at(1).identifier, "Door");
  EXPECT_EQ(all->at(2).type, "info");
  auto alarms = store().events(
      "pk", "dev1", "Alarm", {.from = at_ms(0), .to = at_ms(1000), .limit = 10, .ascending = true});
  TP_ASSERT_OK(alarms);
  ASSERT_EQ(alarms->size(), 2U);
  EXPECT_EQ(alarms->at(0), ev("Alarm", R"({"level":1})", 100));
  auto window =
      store().events("pk", "dev1", "", {.from = at_ms(120), .to = at_ms(160), .limit = 10});
  TP_ASSERT_OK(window);
  ASSERT_EQ(window->size(), 1U);
  EXPECT_EQ(window->at(0).identifier, "Door");
  EXPECT_EQ(store().events("pk", "dev1", "", {.limit = 1})->size(), 1U);
}

TEST_P(ThingStoreContract, GroupCommitIsolatesEachWrite) {
  const std::vector<thing_write> writes{
      property_write{.device = {"pk", "dev1"}, .values = {pv("Temp", "1", 1)}},
      property_write{.device = {"pk", "ghost"}, .values = {pv("Temp", "2", 2)}},
      event_write{.device = {"pk", "dev2"}, .events = {ev("E", "{}", 3)}},
      property_write{.device = {"pk", "dev2"},
                     .values = {pv("Temp", "3", 3), pv("bad id", "3", 3)}},
      property_write{.device = {"p/k", "dev2"}, .values = {pv("Temp", "4", 4)}},
      property_write{.device = {"pk", "dev2"}, .values = {pv("Hum", "5", 5)}},
  };
  auto r = store().write(writes, now);
  TP_ASSERT_OK(r);
  ASSERT_EQ(r->size(), writes.size());
  EXPECT_FALSE((*r)[0]);
  EXPECT_EQ((*r)[1], make_error_code(errc::not_found));
  EXPECT_FALSE((*r)[2]);
  EXPECT_EQ((*r)[3], make_error_code(thing_errc::bad_identifier));
  EXPECT_EQ((*r)[4], make_error_code(errc::bad_product_key));
  EXPECT_FALSE((*r)[5]);
  EXPECT_EQ(values_of(*store().latest_properties("pk", "dev1")), (std::vector<std::string>{"1"}));
  // dev2: the event and Hum, nothing of the refused write.
  EXPECT_EQ(*store().latest_properties("pk", "dev2"),
            (std::vector<property_value>{pv("Hum", "5", 5)}));
  EXPECT_EQ(store().events("pk", "dev2", "", {})->size(), 1U);
  // A failed write in the middle does not disturb the series of the next ones.
  TP_ASSERT_OK(store().append_properties("pk", "dev2", std::vector{pv("Temp", "6", 6)}, now));
  EXPECT_EQ(store().property_history("pk", "dev2", "Temp", {})->size(), 1U);
  TP_EXPECT_ERR(store().write(std::vector<thing_write>(max_thing_batch + 1), now),
                thing_errc::too_many);
}

TEST_P(ThingStoreContract, DataSurvivesReopening) {
  TP_ASSERT_OK(store().append_properties("pk", "dev1", std::vector{pv("Temp", "1", 1)}, now));
  reopen(keep_);
  EXPECT_EQ(store().latest_properties("pk", "dev1")->size(), 1U);
  // Sequence numbers carry on after reopening.
  TP_ASSERT_OK(store().append_properties("pk", "dev1", std::vector{pv("Temp", "2", 2)}, now));
  EXPECT_EQ(values_of(history("Temp")), (std::vector<std::string>{"2", "1"}));
}

} // namespace thingport::store::test
