// The identity store contract, part 1: products, thing models, topic classes, applications,
// load_all and reopening. Part 2 (devices) is in device_contract.cpp.
#include "identity_store_contract.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <string_view>

using namespace std::string_literals;

namespace thingport::store::test {

namespace {

bool all_of_chars(std::string_view s, std::string_view alphabet) {
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return alphabet.find(c) != std::string_view::npos; });
}

constexpr std::string_view alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
constexpr std::string_view hex = "0123456789abcdef";

} // namespace

// ---- products -------------------------------------------------------------------------------

TEST_P(IdentityStoreContract, CreateProductGeneratesKeyAndSecret) {
  const timestamp before = now();
  auto p = store().create_product({.name = "Lamp", .dynamic_registration = true});
  TP_ASSERT_OK(p);
  EXPECT_EQ(p->product_key.size(), 11U);
  EXPECT_TRUE(all_of_chars(p->product_key, alnum)) << p->product_key;
  EXPECT_EQ(p->product_secret.size(), 32U);
  EXPECT_TRUE(all_of_chars(p->product_secret, hex)) << p->product_secret;
  EXPECT_EQ(p->name, "Lamp");
  EXPECT_TRUE(p->dynamic_registration);
  EXPECT_GE(p->created, before);
  EXPECT_LE(p->created, now());

  auto got = store().get_product(p->product_key);
  TP_ASSERT_OK(got);
  EXPECT_EQ(*got, *p);
}

TEST_P(IdentityStoreContract, ImportProductWithItsKeyAndSecret) {
  auto p = store().create_product(
      {.name = "Imported", .product_key = "a1B2c3D4e5F", .product_secret = "S3cr3tFromTheCloud"});
  TP_ASSERT_OK(p);
  EXPECT_EQ(p->product_key, "a1B2c3D4e5F");
  EXPECT_EQ(p->product_secret, "S3cr3tFromTheCloud");
  EXPECT_FALSE(p->dynamic_registration);
  auto got = store().get_product("a1B2c3D4e5F");
  TP_ASSERT_OK(got);
  EXPECT_EQ(*got, *p);
}

TEST_P(IdentityStoreContract, NodeTypeIsKeptAndDeviceByDefault) {
  auto plain = store().create_product({"lamp", false, {}, {}});
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->node, node_type::device);
  new_product g{"hub", false, {}, {}};
  g.node = node_type::gateway;
  new_product sub{"sensor", false, {}, {}};
  sub.node = node_type::subdevice;
  auto gw = store().create_product(g);
  auto sd = store().create_product(sub);
  ASSERT_TRUE(gw && sd);
  EXPECT_EQ(store().get_product(gw->product_key)->node, node_type::gateway);
  EXPECT_EQ(store().get_product(sd->product_key)->node, node_type::subdevice);
  auto all = store().list_products({0, 10});
  ASSERT_TRUE(all);
  for (const auto& p : *all)
    EXPECT_EQ(p, *store().get_product(p.product_key));
  EXPECT_EQ(to_string(node_type::subdevice), "subdevice");
  EXPECT_EQ(parse_node_type("gateway"), node_type::gateway);
  EXPECT_FALSE(parse_node_type("Gateway"));
}

TEST_P(IdentityStoreContract, DuplicateProductKeyIsAlreadyExists) {
  TP_ASSERT_OK(store().create_product({.name = "one", .product_key = "pk1"}));
  TP_EXPECT_ERR(store().create_product({.name = "two", .product_key = "pk1"}),
                errc::already_exists);
  auto got = store().get_product("pk1");
  TP_ASSERT_OK(got);
  EXPECT_EQ(got->name, "one");
}

TEST_P(IdentityStoreContract, UnknownProductIsNotFound) {
  TP_EXPECT_ERR(store().get_product("nope"), errc::not_found);
  TP_EXPECT_ERR(store().get_thing_model("nope"), errc::not_found);
  TP_EXPECT_ERR(store().set_thing_model("nope", "{}"), errc::not_found);
}

TEST_P(IdentityStoreContract, BadProductInputIsRefusedAndNothingWritten) {
  for (const std::string& key :
       {"a/b"s, "a+b"s, "a#b"s, "a\0b"s, "a b"s, "a&b"s, "ab.c"s, std::string(33, 'k')}) {
    TP_EXPECT_ERR(store().create_product({.name = "x", .product_key = key}), errc::bad_product_key);
    TP_EXPECT_ERR(store().get_product(key), errc::bad_product_key);
  }
  TP_EXPECT_ERR(store().create_product({.name = ""}), errc::bad_name);
  TP_EXPECT_ERR(store().create_product({.name = "tab\there"}), errc::bad_name);
  TP_EXPECT_ERR(store().create_product({.name = "nul\0"s}), errc::bad_name);
  TP_EXPECT_ERR(store().create_product({.name = std::string(129, 'n')}), errc::bad_name);
  TP_EXPECT_ERR(store().create_product({.name = "x", .product_secret = "with space"}),
                errc::bad_secret);
  TP_EXPECT_ERR(store().create_product({.name = "x", .product_secret = std::string(129, 's')}),
                errc::bad_secret);
  auto all = store().list_products({.offset = 0, .limit = 100});
  TP_ASSERT_OK(all);
  EXPECT_TRUE(all->empty());
}

TEST_P(IdentityStoreContract, ProductNamesMayBeUtf8) {
  auto p = store().create_product({.name = "智能灯 Lamp ✓"});
  TP_ASSERT_OK(p);
  auto got = store().get_product(p->product_key);
  TP_ASSERT_OK(got);
  EXPECT_EQ(got->name, "智能灯 Lamp ✓");
}

TEST_P(IdentityStoreContract, ListProductsIsPagedAndOrderedByKey) {
  for (const char* key : {"pk3", "pk1", "pk5", "pk2", "pk4"}) {
    TP_ASSERT_OK(store().create_product({.name = key, .product_key = key}));
  }
  std::vector<std::string> keys;
  for (std::size_t offset = 0; offset < 6; offset += 2) {
    auto page_of = store().list_products({.offset = offset, .limit = 2});
    TP_ASSERT_OK(page_of);
    EXPECT_LE(page_of->size(), 2U);
    for (const product& p : *page_of) {
      keys.push_back(p.product_key);
    }
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"pk1", "pk2", "pk3", "pk4", "pk5"}));
  TP_EXPECT_ERR(store().list_products({.offset = 0, .limit = 0}), errc::bad_page);
  TP_EXPECT_ERR(store().list_products({.offset = 0, .limit = max_page_limit + 1}), errc::bad_page);
  auto far = store().list_products({.offset = static_cast<std::size_t>(-1), .limit = 10});
  TP_ASSERT_OK(far);
  EXPECT_TRUE(far->empty());
}

TEST_P(IdentityStoreContract, ThingModelIsStoredAsGiven) {
  TP_ASSERT_OK(store().create_product({.name = "x", .product_key = "pk"}));
  auto none = store().get_thing_model("pk");
  TP_ASSERT_OK(none);
  EXPECT_FALSE(none->has_value());

  const std::string tsl = R"({"profile":{"productKey":"pk"},  "properties":[]})";
  TP_ASSERT_OK(store().set_thing_model("pk", tsl));
  auto got = store().get_thing_model("pk");
  TP_ASSERT_OK(got);
  EXPECT_EQ(*got, tsl);

  TP_ASSERT_OK(store().set_thing_model("pk", std::nullopt));
  got = store().get_thing_model("pk");
  TP_ASSERT_OK(got);
  EXPECT_FALSE(got->has_value());

  TP_EXPECT_ERR(store().set_thing_model("pk", "{\"a\":\"\0\"}"s), errc::bad_thing_model);
  TP_EXPECT_ERR(store().set_thing_model("pk", std::string(max_thing_model_bytes + 1, ' ')),
                errc::bad_thing_model);
  TP_ASSERT_OK(store().set_thing_model("pk", std::string(max_thing_model_bytes, ' ')));
}

// ---- topic classes --------------------------------------------------------------------------

TEST_P(IdentityStoreContract, TopicClassesAreListedInTheOrderAdded) {
  TP_ASSERT_OK(store().create_product({.name = "x", .product_key = "pk"}));
  const std::vector<topic_class> classes{
      {"pk", "/${productKey}/${deviceName}/user/cmd", auth::access::sub},
      {"pk", "/${pk}/${dn}/user/report", auth::access::pub},
      {"pk", "/pk/{deviceName}/user/both", auth::access::all},
      {"pk", "/${productKey}/${deviceName}/user/in/+", auth::access::sub},
  };
  for (const topic_class& tc : classes) {
    TP_ASSERT_OK(store().add_topic_class(tc));
  }
  auto got = store().list_topic_classes("pk");
  TP_ASSERT_OK(got);
  EXPECT_EQ(*got, classes);
  TP_EXPECT_ERR(store().add_topic_class(classes[1]), errc::already_exists);
  TP_EXPECT_ERR(store().list_topic_classes("other"), errc::not_found);
  TP_EXPECT_ERR(store().add_topic_class({"other", "/${pk}/${dn}/user/cmd", auth::access::sub}),
                errc::not_found);
}

TEST_P(IdentityStoreContract, BadTopicClassesAreRefusedAndNothingWritten) {
  TP_ASSERT_OK(store().create_product({.name = "x", .product_key = "pk"}));
  const std::vector<topic_class> bad{
      {"pk", "/${pk}/${dn}/user/+", auth::access::pub},  // wildcard in a pub class
      {"pk", "/${pk}/${dn}/user/#", auth::access::all},  // wildcard in an all class
      {"pk", "/${pk}/${dn}/control", auth::access::sub}, // not under /user/
      {"pk", "/sys/${pk}/${dn}/thing/#", auth::access::sub},
      {"pk", "/#", auth::access::sub},
      {"pk", "/${pk}/${dn}/user/a\0b"s, auth::access::sub},
      {"pk", "/${pk}/${dn}/user/cmd", auth::access::none},
      {"pk", "", auth::access::sub},
      {"pk", "/other/${dn}/user/cmd", auth::access::sub}, // another product's key
  };
  for (const topic_class& tc : bad) {
    TP_EXPECT_ERR(store().add_topic_class(tc), errc::bad_topic_class);
  }
  TP_EXPECT_ERR(store().add_topic_class({"p/k", "/${pk}/${dn}/user/cmd", auth::access::sub}),
                errc::bad_product_key);
  auto got = store().list_topic_classes("pk");
  TP_ASSERT_OK(got);
  EXPECT_TRUE(got->empty());
}

// ---- applications ---------------------------------------------------------------------------

TEST_P(IdentityStoreContract, CreateAndGetApplication) {
  TP_ASSERT_OK(store().create_product({.name = "x", .product_key = "pkB"}));
  TP_ASSERT_OK(store().create_product({.name = "y", .product_key = "pkA"}));
  auto a = store().create_app({.name = "backend", .products = {"pkB", "pkA", "pkB"}});
  TP_ASSERT_OK(a);
  EXPECT_EQ(a->app_key.size(), 16U);
  EXPECT_TRUE(all_of_chars(a->app_key, alnum)) << a->app_key;
  EXPECT_EQ(a->app_secret.size(), 32U);
  EXPECT_TRUE(a->enabled);
  EXPECT_EQ(a->products, (std::vector<std::string>{"pkA", "pkB"}));
  auto got = store().get_app(a->app_key);
  TP_ASSERT_OK(got);
  EXPECT_EQ(*got, *a);

  TP_ASSERT_OK(store().set_app_enabled(a->app_key, false));
  got = store().get_app(a->app_key);
  TP_ASSERT_OK(got);
  EXPECT_FALSE(got->enabled);

  auto listed = store().list_apps({.offset = 0, .limit = 10});
  TP_ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 1U);
  EXPECT_EQ(listed->front(), *got);

  TP_EXPECT_ERR(store().get_app("unknown"), errc::not_found);
  TP_EXPECT_ERR(store().set_app_enabled("unknown", true), errc::not_found);
}

TEST_P(IdentityStoreContract, ApplicationErrorsWriteNothing) {
  TP_ASSERT_OK(store().create_product({.name = "x", .product_key = "pk"}));
  TP_EXPECT_ERR(store().create_app({.name = "a", .products = {"pk", "missing"}}), errc::not_found);
  TP_EXPECT_ERR(store().create_app({.name = "a", .products = {"p/k"}}), errc::bad_product_key);
  TP_EXPECT_ERR(store().create_app({.name = "a", .app_key = "a+b"}), errc::bad_app_key);
  TP_EXPECT_ERR(store().create_app({.name = ""}), errc::bad_name);
  TP_EXPECT_ERR(store().create_app({.name = "a", .app_secret = "tab\t"}), errc::bad_secret);
  TP_EXPECT_ERR(
      store().create_app(
          {.name = "a", .products = std::vector<std::string>(max_app_products + 1, "pk")}),
      errc::batch_too_large);
  auto listed = store().list_apps({.offset = 0, .limit = 10});
  TP_ASSERT_OK(listed);
  EXPECT_TRUE(listed->empty());

  TP_ASSERT_OK(store().create_app({.name = "a", .products = {"pk"}, .app_key = "app1"}));
  TP_EXPECT_ERR(store().create_app({.name = "b", .app_key = "app1"}), errc::already_exists);
  auto got = store().get_app("app1");
  TP_ASSERT_OK(got);
  EXPECT_EQ(got->name, "a");
  EXPECT_EQ(got->products, std::vector<std::string>{"pk"});
}

// ---- load_all and reopening -----------------------------------------------------------------

namespace {

// A little of everything; returns what load_all should find.
void populate(identity_store& s) {
  ASSERT_TRUE(s.create_product({.name = "lamp", .product_key = "pkLamp"}));
  ASSERT_TRUE(s.create_product({.name = "plug", .dynamic_registration = true}));
  ASSERT_TRUE(s.set_thing_model("pkLamp", R"({"properties":[]})"));
  ASSERT_TRUE(s.add_topic_class({"pkLamp", "/${pk}/${dn}/user/cmd", auth::access::sub}));
  ASSERT_TRUE(s.add_topic_class({"pkLamp", "/${pk}/${dn}/user/up", auth::access::pub}));
  std::vector<new_device> batch;
  for (int i = 0; i < 20; ++i) {
    batch.push_back({.device_name = cat("lamp", std::to_string(i))});
  }
  ASSERT_TRUE(s.create_devices("pkLamp", batch));
  ASSERT_TRUE(
      s.record_online("pkLamp", "lamp3", timestamp{std::chrono::milliseconds{1000}}, "10.0.0.3"));
  ASSERT_TRUE(s.record_offline("pkLamp", "lamp3", timestamp{std::chrono::milliseconds{2000}}));
  ASSERT_TRUE(s.set_device_enabled("pkLamp", "lamp4", false));
  ASSERT_TRUE(s.set_device_token("pkLamp", "lamp5", "tok123"));
  ASSERT_TRUE(s.delete_device("pkLamp", "lamp6"));
  ASSERT_TRUE(s.create_app({.name = "app", .products = {"pkLamp"}}));
}

} // namespace

TEST_P(IdentityStoreContract, LoadAllStreamsEverythingInOrder) {
  populate(store());
  ASSERT_FALSE(HasFatalFailure());
  recording_sink sink;
  ASSERT_FALSE(store().load_all(sink));
  ASSERT_EQ(sink.products.size(), 2U);
  ASSERT_EQ(sink.topic_classes.size(), 2U);
  ASSERT_EQ(sink.devices.size(), 19U);
  ASSERT_EQ(sink.apps.size(), 1U);
  EXPECT_TRUE(std::is_sorted(sink.order.begin(), sink.order.end(), [](char a, char b) {
    constexpr std::string_view rank = "ptda";
    return rank.find(a) < rank.find(b);
  }));

  const auto lamp = std::find_if(sink.products.begin(), sink.products.end(),
                                 [](const auto& e) { return e.p.product_key == "pkLamp"; });
  ASSERT_NE(lamp, sink.products.end());
  EXPECT_EQ(lamp->thing_model, std::optional<std::string>(R"({"properties":[]})"));
  for (const device& d : sink.devices) {
    auto got = store().get_device(d.product_key, d.device_name);
    TP_ASSERT_OK(got);
    EXPECT_EQ(*got, d);
  }
  EXPECT_EQ(sink.topic_classes, *store().list_topic_classes("pkLamp"));
  EXPECT_EQ(sink.apps.front(), *store().get_app(sink.apps.front().app_key));
}

TEST_P(IdentityStoreContract, ReopenFindsEverything) {
  populate(store());
  ASSERT_FALSE(HasFatalFailure());
  recording_sink before;
  ASSERT_FALSE(store().load_all(before));
  reopen();
  recording_sink after;
  ASSERT_FALSE(store().load_all(after));
  EXPECT_EQ(after.products, before.products);
  EXPECT_EQ(after.topic_classes, before.topic_classes);
  EXPECT_EQ(after.devices, before.devices);
  EXPECT_EQ(after.apps, before.apps);

  auto lamp3 = store().get_device("pkLamp", "lamp3");
  TP_ASSERT_OK(lamp3);
  EXPECT_EQ(lamp3->first_online, timestamp{std::chrono::milliseconds{1000}});
  EXPECT_EQ(lamp3->last_offline, timestamp{std::chrono::milliseconds{2000}});
  EXPECT_EQ(lamp3->last_ip, "10.0.0.3");
  TP_EXPECT_ERR(store().get_device("pkLamp", "lamp6"), errc::not_found);
}

TEST_P(IdentityStoreContract, ASinkThatThrowsLeavesTheStoreUsable) {
  populate(store());
  ASSERT_FALSE(HasFatalFailure());
  struct throwing_sink : recording_sink {
    void on_device(const device&) override { throw std::runtime_error("cache full"); }
  } sink;
  EXPECT_THROW((void)store().load_all(sink), std::runtime_error);
  TP_ASSERT_OK(store().create_device("pkLamp", {.device_name = "after"}));
  recording_sink all;
  ASSERT_FALSE(store().load_all(all));
  EXPECT_EQ(all.devices.size(), 20U);
}

} // namespace thingport::store::test
