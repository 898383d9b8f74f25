// The pure pieces behind the endpoints: error mapping, paging, names, addresses, TSL shape,
// metrics text.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "api/device_batch.hpp"
#include "api/device_view.hpp"
#include "api/errors.hpp"
#include "api/metrics.hpp"
#include "api/query.hpp"
#include "api/tsl.hpp"
#include "auth/identity.hpp"
#include "broker/policy.hpp"

namespace thingport::api {
namespace {

TEST(ApiErrors, EveryStoreCodeHasAStatusAndMessage) {
  using store::errc;
  const std::pair<errc, unsigned> want[] = {
      {errc::bad_product_key, 400}, {errc::bad_device_name, 400}, {errc::bad_app_key, 400},
      {errc::bad_secret, 400},      {errc::bad_name, 400},        {errc::bad_topic_class, 400},
      {errc::bad_thing_model, 400}, {errc::bad_page, 400},        {errc::batch_too_large, 400},
      {errc::not_found, 404},       {errc::already_exists, 409},  {errc::storage_failure, 503},
      {errc::corrupt, 500}};
  for (const auto& [e, status] : want) {
    const auto p = store_problem(make_error_code(e), "device pk/dn");
    EXPECT_EQ(static_cast<unsigned>(p.status), status) << store::to_string(e);
    EXPECT_FALSE(p.message.empty());
    EXPECT_NE(p.message, "store error");
  }
  EXPECT_EQ(store_problem(make_error_code(errc::not_found), "product x").message,
            "product x not found");
  EXPECT_EQ(store_problem(make_error_code(errc::already_exists), "device p/d").message,
            "device p/d already exists");
  EXPECT_EQ(store_problem(std::make_error_code(std::errc::io_error), "").status,
            http::status::internal_server_error);
}

TEST(ApiErrors, FirstError) {
  const store::result<int> good = 1;
  const store::result<std::string> missing = make_error_code(store::errc::not_found);
  const store::result<int> broken = make_error_code(store::errc::storage_failure);
  EXPECT_FALSE(first_error(good, good));
  EXPECT_EQ(first_error(good, missing, broken), store::errc::not_found);
  EXPECT_EQ(first_error(broken, missing), store::errc::storage_failure);
}

TEST(ApiErrors, ErrorBodyShape) {
  const auto res = error_response(http::status::conflict, "device p/d already exists");
  EXPECT_EQ(res.result_int(), 409u);
  const auto v = boost::json::parse(res.body());
  EXPECT_EQ(v.at("code").as_int64(), 409);
  EXPECT_EQ(v.at("message").as_string(), "device p/d already exists");
}

TEST(ApiQuery, Paging) {
  const auto page = [](std::string_view q) { return page_of(*parse_form(q)); };
  auto p = std::get<store::page>(page(""));
  EXPECT_EQ(p.offset, 0u);
  EXPECT_EQ(p.limit, 100u);
  p = std::get<store::page>(page("offset=20&limit=1000"));
  EXPECT_EQ(p.offset, 20u);
  EXPECT_EQ(p.limit, 1000u);
  for (const char* bad : {"limit=0", "limit=1001", "limit=-1", "limit=x", "offset=-5", "offset=1e3",
                          "limit=", "offset=99999999999999999999"})
    EXPECT_TRUE(std::holds_alternative<problem>(page(bad))) << bad;
}

TEST(ApiQuery, ParseUint) {
  const std::pair<const char*, std::optional<std::uint64_t>> cases[] = {
      {"0", 0},           {"10", 10},           {"11", std::nullopt},
      {"", std::nullopt}, {"+1", std::nullopt}, {"1 ", std::nullopt}};
  for (const auto& [text, want] : cases)
    EXPECT_EQ(parse_uint(text, 10), want) << text;
}

TEST(ApiDeviceView, HostOf) {
  const std::pair<const char*, const char*> cases[] = {{"1.2.3.4:5678", "1.2.3.4"},
                                                       {"1.2.3.4", "1.2.3.4"},
                                                       {"[::1]:80", "::1"},
                                                       {"::1", "::1"},
                                                       {"", ""},
                                                       {"[broken", "[broken"}};
  for (const auto& [address, host] : cases)
    EXPECT_EQ(broker::host_of(address), host) << address;
}

TEST(ApiDeviceView, PeerAddressPrintsAsTheStatusApiShowsIt) {
  const auto v4 = broker::peer_address::v4({192, 168, 100, 200}, 54321);
  EXPECT_EQ(v4.to_string(), "192.168.100.200:54321");
  EXPECT_EQ(v4.host(), "192.168.100.200");
  EXPECT_EQ(broker::host_of(v4.to_string()), v4.host());
  std::array<std::uint8_t, 16> ip{0x20, 0x01, 0x0d, 0xb8};
  ip[15] = 1;
  const auto v6 = broker::peer_address::v6(ip, 8883);
  EXPECT_EQ(v6.to_string(), "[2001:db8::1]:8883");
  EXPECT_EQ(v6.host(), "2001:db8::1");
  EXPECT_EQ(broker::host_of(v6.to_string()), v6.host());
  const broker::peer_address unknown;
  EXPECT_FALSE(unknown.known());
  EXPECT_EQ(unknown.to_string(), "?");
  EXPECT_EQ(unknown.host(), "?");
  EXPECT_NE(v4, unknown);
  // Log lines print it as it is, the same text.
  EXPECT_EQ(fmt::format("{} {}", v4, unknown), "192.168.100.200:54321 ?");
  std::array<std::uint8_t, 16> all{};
  all.fill(0xff);
  EXPECT_EQ(fmt::format("{}", broker::peer_address::v6(all, 65535)),
            "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
  // Kept as bytes: a transport's address costs no allocation, whatever its text's length.
  static_assert(sizeof(broker::peer_address) == 20);
}

TEST(ApiBatch, NumberedNames) {
  auto n = numbered_names("d", 3);
  EXPECT_EQ(n, (std::vector<std::string>{"d001", "d002", "d003"}));
  n = numbered_names("dev-", 100);
  EXPECT_EQ(n.front(), "dev-001");
  EXPECT_EQ(n.back(), "dev-100");
  n = numbered_names("", 2);
  EXPECT_EQ(n.front(), "0001");
  n = numbered_names("sensor", 50000);
  EXPECT_EQ(n.size(), 50000u);
  EXPECT_EQ(n.front(), "sensor00001");
  EXPECT_EQ(n.back(), "sensor50000");
  for (const auto& name : n)
    ASSERT_TRUE(auth::valid_device_name(name)) << name;
  EXPECT_TRUE(std::is_sorted(n.begin(), n.end())); // name order is number order
}

TEST(ApiTsl, CheckedByTheThingLayer) {
  const auto ok = [](std::string_view t) {
    return std::holds_alternative<std::shared_ptr<const thing::thing_model>>(check_tsl(t));
  };
  EXPECT_TRUE(ok(R"({"schema":"https://x","profile":{"productKey":"p"},
      "properties":[{"identifier":"LightSwitch","dataType":{"type":"bool"}}],"events":[],
      "services":[]})"));
  EXPECT_TRUE(ok("{}"));
  for (const char* bad : {"", "[]", "{", R"({"properties":{}})", R"({"events":[1]})",
                          R"({"profile":[]})", R"({"services":"x"})"})
    EXPECT_FALSE(ok(bad)) << bad;
  const auto nested = check_tsl(R"({"properties":[{"identifier":"P","dataType":{"type":"struct",
      "specs":[{"identifier":"S","dataType":{"type":"struct","specs":[]}}]}}]})");
  ASSERT_TRUE(std::holds_alternative<problem>(nested));
  EXPECT_NE(std::get<problem>(nested).message.find("properties[0]"), std::string::npos)
      << std::get<problem>(nested).message;
}

TEST(ApiMetrics, PrometheusText) {
  metrics_snapshot s;
  s.connections = 3;
  s.messages_in = 42;
  s.dropped_expired = 7;
  s.closes[static_cast<std::size_t>(broker::close_reason::kicked)] = 2;
  const auto text = render_metrics(s);
  EXPECT_NE(text.find("# TYPE thingport_connections gauge\nthingport_connections 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("thingport_messages_in_total 42\n"), std::string::npos);
  EXPECT_NE(text.find("thingport_messages_dropped_total{reason=\"expired\"} 7\n"),
            std::string::npos);
  EXPECT_NE(text.find("thingport_closes_total{reason=\"kicked\"} 2\n"), std::string::npos);
  for (const char* name :
       {"thingport_devices_online ", "thingport_devices ", "thingport_connects_total ",
        "thingport_connect_refused_total ", "thingport_publish_denied_total ",
        "thingport_sessions ", "thingport_subscriptions "})
    EXPECT_NE(text.find(std::string("\n") + name), std::string::npos) << name;
  for (std::size_t i = 0; i < s.closes.size(); ++i) {
    const auto reason = broker::to_string(static_cast<broker::close_reason>(i));
    EXPECT_NE(text.find("thingport_closes_total{reason=\"" + std::string(reason) + "\"}"),
              std::string::npos)
        << reason;
  }
  // every line is a comment or "name[{labels}] value"
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    ASSERT_NE(end, std::string::npos);
    const auto line = text.substr(start, end - start);
    if (line[0] != '#') {
      const auto sp = line.rfind(' ');
      ASSERT_NE(sp, std::string::npos) << line;
      EXPECT_EQ(line.substr(sp + 1).find_first_not_of("0123456789"), std::string::npos) << line;
    }
    start = end + 1;
  }
}

} // namespace
} // namespace thingport::api
