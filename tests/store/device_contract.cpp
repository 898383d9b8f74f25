// The identity store contract, part 2: devices, batches, device state, concurrent writers.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "identity_store_contract.hpp"

using namespace std::string_literals;

namespace thingport::store::test {

namespace {

void make_product(identity_store& s, const std::string& pk) {
  ASSERT_TRUE(s.create_product({.name = "p", .product_key = pk}));
}

std::uint64_t count(identity_store& s, std::string_view pk) {
  auto n = s.count_devices(pk);
  return n ? *n : ~std::uint64_t{0};
}

} // namespace

TEST_P(IdentityStoreContract, CreateDeviceWithGivenOrGeneratedName) {
  make_product(store(), "pk");
  const timestamp before = now();
  auto given = store().create_device("pk", {.device_name = "light-01@home.x:1"});
  TP_ASSERT_OK(given);
  EXPECT_EQ(given->product_key, "pk");
  EXPECT_EQ(given->device_name, "light-01@home.x:1");
  EXPECT_EQ(given->device_secret.size(), 32U);
  EXPECT_TRUE(given->enabled);
  EXPECT_FALSE(given->activated());
  EXPECT_FALSE(given->last_online.has_value());
  EXPECT_FALSE(given->device_token.has_value());
  EXPECT_EQ(given->last_ip, "");
  EXPECT_GE(given->created, before);
  EXPECT_EQ(status_of(*given, false), device_status::unactive);

  auto generated = store().create_device("pk", {});
  TP_ASSERT_OK(generated);
  EXPECT_EQ(generated->device_name.size(), 20U);
  EXPECT_NE(generated->device_secret, given->device_secret);

  auto imported = store().create_device("pk", {.device_name = "old1", .device_secret = "AbC123"});
  TP_ASSERT_OK(imported);
  EXPECT_EQ(imported->device_secret, "AbC123");

  for (const device* d : {&*given, &*generated, &*imported}) {
    auto got = store().get_device("pk", d->device_name);
    TP_ASSERT_OK(got);
    EXPECT_EQ(*got, *d);
  }
  EXPECT_EQ(count(store(), "pk"), 3U);
}

TEST_P(IdentityStoreContract, DuplicateDeviceIsAlreadyExists) {
  make_product(store(), "pk");
  make_product(store(), "pk2");
  auto first = store().create_device("pk", {.device_name = "dev1"});
  TP_ASSERT_OK(first);
  TP_EXPECT_ERR(store().create_device("pk", {.device_name = "dev1"}), errc::already_exists);
  auto got = store().get_device("pk", "dev1");
  TP_ASSERT_OK(got);
  EXPECT_EQ(got->device_secret, first->device_secret);
  // The same name in another product is another device.
  TP_ASSERT_OK(store().create_device("pk2", {.device_name = "dev1"}));
  // Names are case-sensitive.
  TP_ASSERT_OK(store().create_device("pk", {.device_name = "DEV1"}));
}

TEST_P(IdentityStoreContract, DeviceOfUnknownProductIsNotFound) {
  TP_EXPECT_ERR(store().create_device("nope", {.device_name = "dev1"}), errc::not_found);
  TP_EXPECT_ERR(store().create_devices("nope", {}), errc::not_found);
  TP_EXPECT_ERR(store().list_devices("nope", {}), errc::not_found);
  TP_EXPECT_ERR(store().count_devices("nope"), errc::not_found);
  TP_EXPECT_ERR(store().get_device("nope", "dev1"), errc::not_found);
}

TEST_P(IdentityStoreContract, BadDeviceInputIsRefusedAndNothingWritten) {
  make_product(store(), "pk");
  for (const std::string& dn : {"abc"s, std::string(33, 'd'), "dev/1"s, "dev+1"s, "dev#1"s,
                                "dev\0ice"s, "dev ice"s, "dev&pk"s, "dév1"s, "dev\n1"s}) {
    TP_EXPECT_ERR(store().create_device("pk", {.device_name = dn}), errc::bad_device_name);
    TP_EXPECT_ERR(store().get_device("pk", dn), errc::bad_device_name);
    TP_EXPECT_ERR(store().set_device_enabled("pk", dn, false), errc::bad_device_name);
    TP_EXPECT_ERR(store().delete_device("pk", dn), errc::bad_device_name);
    TP_EXPECT_ERR(store().record_online("pk", dn, now(), "1.2.3.4"), errc::bad_device_name);
  }
  TP_EXPECT_ERR(store().create_device("p/k", {.device_name = "dev1"}), errc::bad_product_key);
  TP_EXPECT_ERR(store().create_device("pk", {.device_name = "dev1", .device_secret = "a b"}),
                errc::bad_secret);
  TP_EXPECT_ERR(store().create_device("pk", {.device_name = "dev1", .device_secret = "\x01"}),
                errc::bad_secret);
  EXPECT_EQ(count(store(), "pk"), 0U);
  // Exactly 4 and 32 characters are fine.
  TP_ASSERT_OK(store().create_device("pk", {.device_name = "abcd"}));
  TP_ASSERT_OK(store().create_device("pk", {.device_name = std::string(32, 'd')}));
}

TEST_P(IdentityStoreContract, BatchIsAllOrNothing) {
  make_product(store(), "pk");
  TP_ASSERT_OK(store().create_device("pk", {.device_name = "taken"}));
  auto batch = [](std::initializer_list<const char*> names) {
    std::vector<new_device> out;
    for (const char* n : names) {
      out.push_back({.device_name = n});
    }
    return out;
  };
  TP_EXPECT_ERR(store().create_devices("pk", batch({"good1", "bad/", "good2"})),
                errc::bad_device_name);
  TP_EXPECT_ERR(store().create_devices("pk", batch({"good1", "good2", "good1"})),
                errc::already_exists);
  TP_EXPECT_ERR(store().create_devices("pk", batch({"good1", "good2", "taken"})),
                errc::already_exists);
  EXPECT_EQ(count(store(), "pk"), 1U);
  TP_EXPECT_ERR(store().create_devices("pk", std::vector<new_device>(max_batch_devices + 1)),
                errc::batch_too_large);
  EXPECT_EQ(count(store(), "pk"), 1U);

  auto ok = store().create_devices("pk", batch({"good2", "good1", ""}));
  TP_ASSERT_OK(ok);
  ASSERT_EQ(ok->size(), 3U);
  EXPECT_EQ((*ok)[0].device_name, "good2"); // in the order given
  EXPECT_EQ((*ok)[1].device_name, "good1");
  EXPECT_EQ((*ok)[2].device_name.size(), 20U);
  EXPECT_EQ(count(store(), "pk"), 4U);
}

TEST_P(IdentityStoreContract, BatchOf50000InOneTransaction) {
  make_product(store(), "pk");
  std::vector<new_device> specs(max_batch_devices);
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const std::string digits = std::to_string(i);
    specs[i].device_name = cat("d", std::string(5 - digits.size(), '0'), digits);
  }
  const auto start = std::chrono::steady_clock::now();
  auto created = store().create_devices("pk", specs);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  TP_ASSERT_OK(created);
  RecordProperty("batch_50000_ms", static_cast<int>(ms));
  std::printf("[ %s ] create_devices(50000): %lld ms\n", GetParam().name.c_str(),
              static_cast<long long>(ms));
  ASSERT_EQ(created->size(), max_batch_devices);
  EXPECT_EQ(count(store(), "pk"), max_batch_devices);

  auto last_page = store().list_devices("pk", {.offset = 49'990, .limit = 1000});
  TP_ASSERT_OK(last_page);
  ASSERT_EQ(last_page->size(), 10U);
  EXPECT_EQ(last_page->front().device_name, "d49990");
  EXPECT_EQ(last_page->back(), created->back());
  auto one = store().get_device("pk", "d12345");
  TP_ASSERT_OK(one);
  EXPECT_EQ(*one, (*created)[12345]);
}

TEST_P(IdentityStoreContract, ListDevicesIsPagedAndOrderedByName) {
  make_product(store(), "pk");
  make_product(store(), "pk2");
  std::vector<new_device> specs;
  for (const char* n : {"dev5", "dev2", "dev4", "dev1", "dev3"}) {
    specs.push_back({.device_name = n});
  }
  TP_ASSERT_OK(store().create_devices("pk", specs));
  TP_ASSERT_OK(store().create_device("pk2", {.device_name = "dev0"}));
  std::vector<std::string> names;
  for (std::size_t offset = 0; offset < 6; offset += 2) {
    auto page_of = store().list_devices("pk", {.offset = offset, .limit = 2});
    TP_ASSERT_OK(page_of);
    for (const device& d : *page_of) {
      EXPECT_EQ(d.product_key, "pk");
      names.push_back(d.device_name);
    }
  }
  EXPECT_EQ(names, (std::vector<std::string>{"dev1", "dev2", "dev3", "dev4", "dev5"}));
  EXPECT_EQ(count(store(), "pk"), 5U);
  EXPECT_EQ(count(store(), "pk2"), 1U);
  TP_EXPECT_ERR(store().list_devices("pk", {.offset = 0, .limit = 0}), errc::bad_page);
  TP_EXPECT_ERR(store().list_devices("pk", {.offset = 0, .limit = max_page_limit + 1}),
                errc::bad_page);
}

TEST_P(IdentityStoreContract, EnableDisableAndDelete) {
  make_product(store(), "pk");
  TP_ASSERT_OK(store().create_device("pk", {.device_name = "dev1"}));
  TP_ASSERT_OK(store().set_device_enabled("pk", "dev1", false));
  auto d = store().get_device("pk", "dev1");
  TP_ASSERT_OK(d);
  EXPECT_FALSE(d->enabled);
  EXPECT_EQ(status_of(*d, false), device_status::disable);
  TP_ASSERT_OK(store().set_device_enabled("pk", "dev1", false)); // idempotent
  TP_ASSERT_OK(store().set_device_enabled("pk", "dev1", true));
  d = store().get_device("pk", "dev1");
  TP_ASSERT_OK(d);
  EXPECT_TRUE(d->enabled);
  TP_EXPECT_ERR(store().set_device_enabled("pk", "dev2", true), errc::not_found);
  TP_EXPECT_ERR(store().set_device_enabled("pk2", "dev1", true), errc::not_found);

  TP_ASSERT_OK(store().delete_device("pk", "dev1"));
  TP_EXPECT_ERR(store().get_device("pk", "dev1"), errc::not_found);
  TP_EXPECT_ERR(store().delete_device("pk", "dev1"), errc::not_found);
  EXPECT_EQ(count(store(), "pk"), 0U);
  auto again = store().create_device("pk", {.device_name = "dev1"});
  TP_ASSERT_OK(again);
  EXPECT_NE(again->device_secret, d->device_secret);
}

TEST_P(IdentityStoreContract, OnlineOfflineAndToken) {
  make_product(store(), "pk");
  TP_ASSERT_OK(store().create_device("pk", {.device_name = "dev1"}));
  const timestamp t1{std::chrono::milliseconds{1'700'000'000'000}};
  const timestamp t2 = t1 + std::chrono::minutes{5};
  const timestamp t3 = t2 + std::chrono::minutes{5};
  TP_ASSERT_OK(store().record_online("pk", "dev1", t1, "192.0.2.1"));
  TP_ASSERT_OK(store().record_offline("pk", "dev1", t2));
  TP_ASSERT_OK(store().record_online("pk", "dev1", t3, "2001:db8::1"));
  auto d = store().get_device("pk", "dev1");
  TP_ASSERT_OK(d);
  EXPECT_TRUE(d->activated());
  EXPECT_EQ(d->first_online, t1); // set once
  EXPECT_EQ(d->last_online, t3);
  EXPECT_EQ(d->last_offline, t2);
  EXPECT_EQ(d->last_ip, "2001:db8::1");
  EXPECT_EQ(status_of(*d, true), device_status::online);
  EXPECT_EQ(status_of(*d, false), device_status::offline);
  EXPECT_EQ(to_string(status_of(*d, false)), "OFFLINE");
  TP_ASSERT_OK(store().record_online("pk", "dev1", t3, std::string(100, '1')));
  d = store().get_device("pk", "dev1");
  TP_ASSERT_OK(d);
  EXPECT_EQ(d->last_ip, std::string(max_ip_bytes, '1')); // bounded
  TP_EXPECT_ERR(store().record_online("pk", "dev2", t1, "192.0.2.1"), errc::not_found);
  TP_EXPECT_ERR(store().record_offline("pk", "dev2", t1), errc::not_found);

  TP_ASSERT_OK(store().set_device_token("pk", "dev1", "0123456789abcdef0123456789abcdef"));
  d = store().get_device("pk", "dev1");
  TP_ASSERT_OK(d);
  EXPECT_EQ(d->device_token, std::optional<std::string>("0123456789abcdef0123456789abcdef"));
  TP_EXPECT_ERR(store().set_device_token("pk", "dev1", "bad token"), errc::bad_secret);
  TP_EXPECT_ERR(store().set_device_token("pk", "dev1", ""), errc::bad_secret);
  TP_ASSERT_OK(store().set_device_token("pk", "dev1", std::nullopt));
  d = store().get_device("pk", "dev1");
  TP_ASSERT_OK(d);
  EXPECT_FALSE(d->device_token.has_value());
  TP_EXPECT_ERR(store().set_device_token("pk", "dev2", "tok"), errc::not_found);
}

TEST_P(IdentityStoreContract, StatusChangesInOneBatchAsOneByOne) {
  make_product(store(), "pk");
  TP_ASSERT_OK(store().create_device("pk", {.device_name = "dev1"}));
  TP_ASSERT_OK(store().create_device("pk", {.device_name = "dev3"}));
  const timestamp t1{std::chrono::milliseconds{1'700'000'000'000}};
  const timestamp t2 = t1 + std::chrono::minutes{5};
  const timestamp t3 = t2 + std::chrono::minutes{5};
  const std::string long_ip(100, '1');
  const std::vector<status_change> changes{
      {"pk", "dev1", true, t1, "192.0.2.1"},
      {"pk", "dev2", true, t1, "192.0.2.2"}, // no such device: skipped
      {"pk", "dev1", false, t2, {}},
      {"pk", "x", true, t2, "192.0.2.3"}, // invalid name: skipped
      {"pk", "dev3", true, t2, long_ip},
      {"pk", "dev1", true, t3, "2001:db8::1"},
  };
  auto applied = store().record_status(changes);
  TP_ASSERT_OK(applied);
  EXPECT_EQ(*applied, 4U);
  auto d = store().get_device("pk", "dev1");
  TP_ASSERT_OK(d);
  EXPECT_EQ(d->first_online, t1); // the first of the batch, not the last
  EXPECT_EQ(d->last_online, t3);
  EXPECT_EQ(d->last_offline, t2);
  EXPECT_EQ(d->last_ip, "2001:db8::1");
  d = store().get_device("pk", "dev3");
  TP_ASSERT_OK(d);
  EXPECT_EQ(d->first_online, t2);
  EXPECT_EQ(d->last_ip, std::string(max_ip_bytes, '1')); // bounded as one by one
  EXPECT_FALSE(store().get_device("pk", "dev2"));
  applied = store().record_status({});
  TP_ASSERT_OK(applied);
  EXPECT_EQ(*applied, 0U);
}

TEST_P(IdentityStoreContract, FourConcurrentWritersDoNotCorrupt) {
  make_product(store(), "pk");
  constexpr int threads = 4;
  constexpr int per_thread = 100;
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const std::string dn = cat("t", std::to_string(t), "-", std::to_string(i));
        bool ok = static_cast<bool>(store().create_device("pk", {.device_name = dn}));
        ok = ok && store().record_online("pk", dn, now(), cat("10.0.0.", std::to_string(t)));
        ok = ok && store().set_device_enabled("pk", dn, i % 2 == 0);
        ok = ok && store().get_device("pk", dn);
        ok = ok && store().list_devices("pk", {.offset = 0, .limit = 50});
        if (i % 10 == 0) {
          ok = ok &&
               store().create_devices("pk", std::vector<new_device>{{.device_name = cat(dn, "b")},
                                                                    {.device_name = cat(dn, "c")}});
        }
        if (!ok) {
          failures.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  for (std::thread& w : workers) {
    w.join();
  }
  EXPECT_EQ(failures.load(), 0);
  constexpr std::uint64_t expected = threads * per_thread + threads * (per_thread / 10) * 2;
  EXPECT_EQ(count(store(), "pk"), expected);

  reopen();
  recording_sink sink;
  ASSERT_FALSE(store().load_all(sink));
  ASSERT_EQ(sink.devices.size(), expected);
  for (const device& d : sink.devices) {
    if (d.device_name.back() == 'b' || d.device_name.back() == 'c') {
      continue;
    }
    EXPECT_TRUE(d.activated()) << d.device_name;
    const int i = std::stoi(d.device_name.substr(d.device_name.find('-') + 1));
    EXPECT_EQ(d.enabled, i % 2 == 0) << d.device_name;
  }
}

} // namespace thingport::store::test

namespace thingport::store::test {

TEST_P(IdentityStoreContract, GatewayTopologyOneGatewayPerSubDevice) {
  make_product(store(), "gwp");
  make_product(store(), "subp");
  for (const char* dn : {"hub-1", "hub-2"})
    ASSERT_TRUE(store().create_device("gwp", {dn, {}}));
  for (const char* dn : {"meter-1", "meter-2", "meter-3"})
    ASSERT_TRUE(store().create_device("subp", {dn, {}}));
  const std::vector<device_ref> two{{"subp", "meter-2"}, {"subp", "meter-1"}};
  TP_ASSERT_OK(store().add_sub_devices("gwp", "hub-1", two));
  TP_ASSERT_OK(store().add_sub_devices("gwp", "hub-1", two)); // again: nothing changes
  auto subs = store().sub_devices("gwp", "hub-1");
  TP_ASSERT_OK(subs);
  EXPECT_EQ(*subs, (std::vector<device_ref>{{"subp", "meter-1"}, {"subp", "meter-2"}}));
  EXPECT_EQ(store().gateway_of("subp", "meter-1")->value(), (device_ref{"gwp", "hub-1"}));
  EXPECT_FALSE(store().gateway_of("subp", "meter-3")->has_value());

  // All or nothing: an unknown device leaves the others where they were.
  const std::vector<device_ref> mixed{{"subp", "meter-3"}, {"subp", "meter-1"}};
  TP_EXPECT_ERR(
      store().add_sub_devices("gwp", "hub-2",
                              std::vector<device_ref>{{"subp", "meter-3"}, {"subp", "ghost-1"}}),
      errc::not_found);
  EXPECT_FALSE(store().gateway_of("subp", "meter-3")->has_value());
  TP_EXPECT_ERR(
      store().add_sub_devices("gwp", "ghost-9", std::vector<device_ref>{{"subp", "meter-3"}}),
      errc::not_found);
  TP_EXPECT_ERR(store().add_sub_devices("gwp", "hub-1", std::vector<device_ref>{{"gwp", "hub-1"}}),
                errc::already_exists);
  TP_EXPECT_ERR(store().add_sub_devices("gwp", "hub-1", std::vector<device_ref>{{"p k", "x"}}),
                errc::bad_product_key);

  // Removing: only its own, all or nothing.
  TP_EXPECT_ERR(
      store().remove_sub_devices("gwp", "hub-2", std::vector<device_ref>{{"subp", "meter-1"}}),
      errc::not_found);
  TP_EXPECT_ERR(store().remove_sub_devices("gwp", "hub-1", mixed), errc::not_found);
  EXPECT_EQ(store().sub_devices("gwp", "hub-1")->size(), 2U);
  // Another gateway taking one moves it.
  TP_ASSERT_OK(
      store().add_sub_devices("gwp", "hub-2", std::vector<device_ref>{{"subp", "meter-2"}}));
  EXPECT_EQ(store().gateway_of("subp", "meter-2")->value(), (device_ref{"gwp", "hub-2"}));
  EXPECT_EQ(store().sub_devices("gwp", "hub-1")->size(), 1U);
  TP_ASSERT_OK(
      store().add_sub_devices("gwp", "hub-1", std::vector<device_ref>{{"subp", "meter-2"}}));
  TP_ASSERT_OK(
      store().remove_sub_devices("gwp", "hub-1", std::vector<device_ref>{{"subp", "meter-2"}}));
  EXPECT_EQ(store().sub_devices("gwp", "hub-1")->size(), 1U);

  // Deleting either side removes the row.
  TP_ASSERT_OK(
      store().add_sub_devices("gwp", "hub-2", std::vector<device_ref>{{"subp", "meter-3"}}));
  TP_ASSERT_OK(store().delete_device("subp", "meter-3"));
  EXPECT_TRUE(store().sub_devices("gwp", "hub-2")->empty());
  TP_ASSERT_OK(store().delete_device("gwp", "hub-1"));
  EXPECT_FALSE(store().gateway_of("subp", "meter-1")->has_value());
}

TEST_P(IdentityStoreContract, AGatewayHoldsAtMostMaxSubDevicesAndAnAddOverItChangesNothing) {
  make_product(store(), "gwp");
  make_product(store(), "subp");
  ASSERT_TRUE(store().create_device("gwp", {"hub-1", {}}));
  std::vector<new_device> specs;
  std::vector<device_ref> refs;
  for (std::size_t i = 0; i <= max_sub_devices; ++i) {
    specs.push_back({"sub-" + std::to_string(1000 + i), {}});
    refs.push_back({"subp", "sub-" + std::to_string(1000 + i)});
  }
  ASSERT_TRUE(store().create_devices("subp", specs));
  const std::vector<device_ref> all_but_last(refs.begin(), refs.end() - 1);
  TP_ASSERT_OK(store().add_sub_devices("gwp", "hub-1", all_but_last));
  TP_EXPECT_ERR(store().add_sub_devices("gwp", "hub-1", std::vector<device_ref>{refs.back()}),
                errc::limit_reached);
  EXPECT_EQ(store().sub_devices("gwp", "hub-1")->size(), max_sub_devices);
  EXPECT_FALSE(store().gateway_of("subp", refs.back().device_name)->has_value());
  // One already held counts once: adding it again is not over the bound.
  TP_ASSERT_OK(store().add_sub_devices("gwp", "hub-1", std::vector<device_ref>{refs.front()}));
}

} // namespace thingport::store::test
