// The thing store contract, part 2: shadow, device info, desired values, downlinks, deleting a
// device's data.
#include "thing_store_contract.hpp"

#include <string>
#include <vector>

namespace thingport::store::test {

namespace {

const timestamp now = at_ms(1'000'000);

shadow_document doc(std::string text, std::int64_t version) {
  return {.document = std::move(text), .version = version, .updated = now};
}

downlink_record dl(std::string id, std::int64_t sent_ms) {
  return {.id = std::move(id),
          .type = downlink_type::service,
          .identifier = "Reboot",
          .request = R"({"id":"1","params":{}})",
          .sent = at_ms(sent_ms)};
}

} // namespace

TEST_P(ThingStoreContract, ShadowIsCompareAndSet) {
  auto none = store().get_shadow("pk", "dev1");
  TP_ASSERT_OK(none);
  EXPECT_FALSE(none->has_value());

  TP_ASSERT_OK(store().put_shadow("pk", "dev1", doc(R"({"v":1})", 1), 0));
  auto got = store().get_shadow("pk", "dev1");
  TP_ASSERT_OK(got);
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, doc(R"({"v":1})", 1));

  // Someone else stored version 1 meanwhile: both "from nothing" and "from 5" conflict.
  TP_EXPECT_ERR(store().put_shadow("pk", "dev1", doc(R"({"v":2})", 2), 0),
                thing_errc::version_conflict);
  TP_EXPECT_ERR(store().put_shadow("pk", "dev1", doc(R"({"v":6})", 6), 5),
                thing_errc::version_conflict);
  // Versions only grow.
  TP_EXPECT_ERR(store().put_shadow("pk", "dev1", doc(R"({"v":1})", 1), 1),
                thing_errc::version_conflict);
  TP_ASSERT_OK(store().put_shadow("pk", "dev1", doc(R"({"v":3})", 3), 1));
  EXPECT_EQ(store().get_shadow("pk", "dev1")->value().version, 3);
  TP_EXPECT_ERR(store().put_shadow("pk", "ghost", doc("{}", 1), 0), errc::not_found);
  TP_EXPECT_ERR(store().put_shadow("pk", "dev1", doc("", 4), 3), thing_errc::bad_value);
  EXPECT_FALSE(store().get_shadow("pk", "dev2")->has_value());
}

TEST_P(ThingStoreContract, DeviceInfoTags) {
  TP_ASSERT_OK(store().set_attributes(
      "pk", "dev1",
      std::vector<device_attribute>{{"Temperature", "36.8", at_ms(1)}, {"floor", "3", at_ms(1)}}));
  TP_ASSERT_OK(store().set_attributes("pk", "dev1",
                                      std::vector<device_attribute>{{"floor", "4", at_ms(2)}}));
  auto a = store().attributes("pk", "dev1");
  TP_ASSERT_OK(a);
  EXPECT_EQ(*a, (std::vector<device_attribute>{{"Temperature", "36.8", at_ms(1)},
                                               {"floor", "4", at_ms(2)}}));
  TP_ASSERT_OK(
      store().delete_attributes("pk", "dev1", std::vector<std::string>{"floor", "absent"}));
  EXPECT_EQ(store().attributes("pk", "dev1")->size(), 1U);

  TP_EXPECT_ERR(
      store().set_attributes("pk", "dev1", std::vector<device_attribute>{{"1x", "v", now}}),
      thing_errc::bad_key);
  TP_EXPECT_ERR(
      store().set_attributes("pk", "dev1",
                             std::vector<device_attribute>{{"ok", "v", now}, {"a b", "v", now}}),
      thing_errc::bad_key);
  TP_EXPECT_ERR(store().set_attributes("pk", "dev1", std::vector<device_attribute>{{"k", "", now}}),
                thing_errc::bad_value);
  TP_EXPECT_ERR(store().delete_attributes("pk", "dev1", std::vector<std::string>{"a/b"}),
                thing_errc::bad_key);
  EXPECT_EQ(store().attributes("pk", "dev1")->size(), 1U); // "ok" was not written
  TP_EXPECT_ERR(
      store().set_attributes("pk", "ghost", std::vector<device_attribute>{{"k", "v", now}}),
      errc::not_found);
}

TEST_P(ThingStoreContract, DesiredValuesHaveVersionsThatNeverGoBack) {
  auto v = store().set_desired("pk", "dev1", "Power", "\"on\"", at_ms(1));
  TP_ASSERT_OK(v);
  EXPECT_EQ(*v, 1);
  EXPECT_EQ(*store().set_desired("pk", "dev1", "Power", "\"off\"", at_ms(2)), 2);
  EXPECT_EQ(*store().set_desired("pk", "dev1", "Temp", "25", at_ms(3)), 1);

  auto all = store().get_desired("pk", "dev1", {});
  TP_ASSERT_OK(all);
  EXPECT_EQ(*all, (std::vector<desired_property>{{"Power", "\"off\"", 2, at_ms(2)},
                                                 {"Temp", "25", 1, at_ms(3)}}));
  const std::vector<std::string> some{"Temp", "Missing", "Temp"};
  auto got = store().get_desired("pk", "dev1", some);
  TP_ASSERT_OK(got);
  ASSERT_EQ(got->size(), 1U);
  EXPECT_EQ(got->at(0).identifier, "Temp");

  // The device saw version 1: a newer value stays.
  TP_ASSERT_OK(store().delete_desired("pk", "dev1", std::vector<desired_removal>{{"Power", 1}}));
  EXPECT_EQ(store().get_desired("pk", "dev1", {})->size(), 2U);
  TP_ASSERT_OK(store().delete_desired(
      "pk", "dev1", std::vector<desired_removal>{{"Power", 2}, {"Temp", std::nullopt}}));
  EXPECT_TRUE(store().get_desired("pk", "dev1", {})->empty());
  // Setting again goes on from the last version.
  EXPECT_EQ(*store().set_desired("pk", "dev1", "Power", "\"on\"", at_ms(4)), 3);

  TP_EXPECT_ERR(store().set_desired("pk", "dev1", "Bad id", "1", now), thing_errc::bad_identifier);
  TP_EXPECT_ERR(store().set_desired("pk", "dev1", "Power", "", now), thing_errc::bad_value);
  TP_EXPECT_ERR(store().get_desired("pk", "dev1", std::vector<std::string>{"x-y"}),
                thing_errc::bad_identifier);
  TP_EXPECT_ERR(store().delete_desired("pk", "dev1", std::vector<desired_removal>{{"", 1}}),
                thing_errc::bad_identifier);
}

TEST_P(ThingStoreContract, DownlinkRecordsAndOutcomes) {
  TP_ASSERT_OK(store().record_downlink("pk", "dev1", dl("100", 10)));
  TP_EXPECT_ERR(store().record_downlink("pk", "dev1", dl("100", 11)), errc::already_exists);
  TP_ASSERT_OK(store().record_downlink("pk", "dev2", dl("100", 12))); // ids are per device
  auto r = store().get_downlink("pk", "dev1", "100");
  TP_ASSERT_OK(r);
  EXPECT_EQ(*r, dl("100", 10));
  EXPECT_EQ(r->outcome, downlink_outcome::pending);

  TP_ASSERT_OK(store().complete_downlink("pk", "dev1", "100", downlink_outcome::success, 200,
                                         R"({"ok":1})", at_ms(20)));
  r = store().get_downlink("pk", "dev1", "100");
  TP_ASSERT_OK(r);
  EXPECT_EQ(r->outcome, downlink_outcome::success);
  EXPECT_EQ(r->reply_code, 200);
  EXPECT_EQ(r->reply, R"({"ok":1})");
  EXPECT_EQ(r->completed, at_ms(20));
  // A late answer after the outcome is settled changes nothing.
  TP_EXPECT_ERR(store().complete_downlink("pk", "dev1", "100", downlink_outcome::timeout,
                                          std::nullopt, std::nullopt, at_ms(30)),
                errc::not_found);
  TP_EXPECT_ERR(store().complete_downlink("pk", "dev1", "nope", downlink_outcome::offline,
                                          std::nullopt, std::nullopt, at_ms(30)),
                errc::not_found);
  TP_ASSERT_OK(store().record_downlink("pk", "dev1", dl("101", 40)));
  TP_ASSERT_OK(store().complete_downlink("pk", "dev1", "101", downlink_outcome::timeout,
                                         std::nullopt, std::nullopt, at_ms(50)));
  r = store().get_downlink("pk", "dev1", "101");
  EXPECT_EQ(r->outcome, downlink_outcome::timeout);
  EXPECT_FALSE(r->reply_code);
  EXPECT_FALSE(r->reply);

  auto list = store().downlinks("pk", "dev1", {.offset = 0, .limit = 10});
  TP_ASSERT_OK(list);
  ASSERT_EQ(list->size(), 2U);
  EXPECT_EQ(list->at(0).id, "101"); // newest first
  EXPECT_EQ(store().downlinks("pk", "dev1", {.offset = 1, .limit = 10})->size(), 1U);

  TP_EXPECT_ERR(store().get_downlink("pk", "dev1", "absent"), errc::not_found);
  TP_EXPECT_ERR(store().record_downlink("pk", "dev1", dl("a/b", 1)), thing_errc::bad_id);
  TP_EXPECT_ERR(store().record_downlink("pk", "ghost", dl("1", 1)), errc::not_found);
  TP_EXPECT_ERR(store().complete_downlink("pk", "dev1", "101", downlink_outcome::pending,
                                          std::nullopt, std::nullopt, now),
                thing_errc::bad_value);
  TP_EXPECT_ERR(store().downlinks("pk", "dev1", {.offset = 0, .limit = 0}), errc::bad_page);
  EXPECT_EQ(to_string(downlink_outcome::offline), "OFFLINE");
}

TEST_P(ThingStoreContract, RrpcPayloadsAreAnyBytesKeptAsGiven) {
  // An RRPC request and reply are the device's bytes: not UTF-8, NUL, a backslash, quotes.
  const std::string request("\x01\xff\x00\\x41'\"", 8);
  const std::string reply("pong\xff\xfe\x00\\", 8);
  downlink_record d = dl("7", 10);
  d.type = downlink_type::rrpc;
  d.identifier.clear();
  d.request = request;
  TP_ASSERT_OK(store().record_downlink("pk", "dev1", d));
  TP_ASSERT_OK(store().complete_downlink("pk", "dev1", "7", downlink_outcome::success, std::nullopt,
                                         reply, at_ms(20)));
  auto r = store().get_downlink("pk", "dev1", "7");
  TP_ASSERT_OK(r);
  EXPECT_EQ(r->request, request);
  EXPECT_EQ(r->reply, reply);
  auto list = store().downlinks("pk", "dev1", {.offset = 0, .limit = 10});
  TP_ASSERT_OK(list);
  ASSERT_EQ(list->size(), 1U);
  EXPECT_EQ(list->front().request, request);
}

TEST_P(ThingStoreContract, DownlinkRetention) {
  reopen({.max_values = 0,
          .max_events = 0,
          .max_age = std::chrono::milliseconds{0},
          .max_downlinks = 2,
          .max_downlink_age = std::chrono::milliseconds{100}});
  for (int i = 0; i < 4; ++i) {
    TP_ASSERT_OK(store().record_downlink("pk", "dev1", dl(std::to_string(i), 1000 + i)));
  }
  auto list = store().downlinks("pk", "dev1", {.offset = 0, .limit = 10});
  TP_ASSERT_OK(list);
  ASSERT_EQ(list->size(), 2U);
  EXPECT_EQ(list->at(0).id, "3");
  EXPECT_EQ(list->at(1).id, "2");
  // A new record ages out the ones older than 100 ms before it.
  TP_ASSERT_OK(store().record_downlink("pk", "dev1", dl("9", 1500)));
  EXPECT_EQ(store().downlinks("pk", "dev1", {.offset = 0, .limit = 10})->size(), 1U);
  TP_ASSERT_OK(store().record_downlink("pk", "dev2", dl("1", 1000)));
  auto removed = store().prune(at_ms(5000));
  TP_ASSERT_OK(removed);
  EXPECT_EQ(*removed, 2U);
}

TEST_P(ThingStoreContract, DeleteDeviceDataRemovesEverythingOfThatDeviceOnly) {
  for (const char* dn : {"dev1", "dev2"}) {
    TP_ASSERT_OK(store().append_properties(
        "pk", dn, std::vector<property_value>{{"Temp", "1", at_ms(1)}}, now));
    TP_ASSERT_OK(store().append_events(
        "pk", dn, std::vector<event_record>{{"E", "info", "{}", at_ms(1)}}, now));
    TP_ASSERT_OK(store().put_shadow("pk", dn, doc("{}", 1), 0));
    TP_ASSERT_OK(store().set_attributes("pk", dn, std::vector<device_attribute>{{"k", "v", now}}));
    TP_ASSERT_OK(store().set_desired("pk", dn, "Temp", "2", now));
    TP_ASSERT_OK(store().record_downlink("pk", dn, dl("1", 1)));
    TP_ASSERT_OK(store().record_firmware("pk", dn, {"default", "1.0", now}));
  }
  TP_ASSERT_OK(store().delete_device_data("pk", "dev1"));
  EXPECT_TRUE(store().latest_properties("pk", "dev1")->empty());
  EXPECT_TRUE(store().property_history("pk", "dev1", "Temp", {})->empty());
  EXPECT_TRUE(store().events("pk", "dev1", "", {})->empty());
  EXPECT_FALSE(store().get_shadow("pk", "dev1")->has_value());
  EXPECT_TRUE(store().attributes("pk", "dev1")->empty());
  EXPECT_TRUE(store().get_desired("pk", "dev1", {})->empty());
  TP_EXPECT_ERR(store().get_downlink("pk", "dev1", "1"), errc::not_found);
  EXPECT_TRUE(store().firmware("pk", "dev1")->empty());
  // The desired version starts over: the device's data is gone, not hidden.
  EXPECT_EQ(*store().set_desired("pk", "dev1", "Temp", "3", now), 1);

  EXPECT_EQ(store().latest_properties("pk", "dev2")->size(), 1U);
  EXPECT_EQ(store().events("pk", "dev2", "", {})->size(), 1U);
  EXPECT_TRUE(store().get_shadow("pk", "dev2")->has_value());
  EXPECT_EQ(store().attributes("pk", "dev2")->size(), 1U);
  EXPECT_EQ(store().get_desired("pk", "dev2", {})->size(), 1U);
  TP_ASSERT_OK(store().get_downlink("pk", "dev2", "1"));
  EXPECT_EQ(store().firmware("pk", "dev2")->size(), 1U);
  TP_EXPECT_ERR(store().delete_device_data("p k", "dev1"), errc::bad_product_key);
}

TEST_P(ThingStoreContract, FirmwareVersionsPerModuleAndCountsPerVersion) {
  TP_ASSERT_OK(store().record_firmware("pk", "dev1", {"default", "1.0.0", at_ms(1)}));
  TP_ASSERT_OK(store().record_firmware("pk", "dev1", {"MCU", "2.1", at_ms(1)}));
  TP_ASSERT_OK(store().record_firmware("pk", "dev2", {"default", "1.0.0", at_ms(2)}));
  // A new report of a module replaces the one before.
  TP_ASSERT_OK(store().record_firmware("pk", "dev1", {"default", "1.1.0", at_ms(3)}));
  auto f = store().firmware("pk", "dev1");
  TP_ASSERT_OK(f);
  EXPECT_EQ(*f, (std::vector<firmware_version>{{"MCU", "2.1", at_ms(1)},
                                               {"default", "1.1.0", at_ms(3)}}));
  auto counts = store().firmware_counts("pk");
  TP_ASSERT_OK(counts);
  EXPECT_EQ(*counts, (std::vector<version_count>{
                         {"MCU", "2.1", 1}, {"default", "1.0.0", 1}, {"default", "1.1.0", 1}}));
  EXPECT_TRUE(store().firmware_counts("other")->empty());
  // Stored as given: quotes, unicode and SQL in a version are text.
  const std::string odd = "1.0'; DROP TABLE thing_firmware;--\u00e9\"";
  TP_ASSERT_OK(store().record_firmware("pk", "dev2", {"default", odd, at_ms(4)}));
  EXPECT_EQ(store().firmware("pk", "dev2")->at(0).version, odd);

  TP_EXPECT_ERR(store().record_firmware("pk", "ghost", {"default", "1", now}), errc::not_found);
  TP_EXPECT_ERR(store().record_firmware("pk", "dev1", {"bad module", "1", now}),
                thing_errc::bad_key);
  TP_EXPECT_ERR(store().record_firmware("pk", "dev1", {"", "1", now}), thing_errc::bad_key);
  TP_EXPECT_ERR(store().record_firmware("pk", "dev1", {"m", "", now}), thing_errc::bad_value);
  TP_EXPECT_ERR(store().record_firmware("pk", "dev1", {"m", std::string(65, 'v'), now}),
                thing_errc::bad_value);
  TP_EXPECT_ERR(store().firmware_counts("p k"), errc::bad_product_key);
}

} // namespace thingport::store::test
