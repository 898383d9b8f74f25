#include "api/router.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace thingport::api {
namespace {

request make(http::verb v, std::string target) {
  request r{v, target, 11};
  return r;
}

// A handler that answers with its name and what it captured.
handler echo(std::string name) {
  return [name](const call& c) {
    std::string body = name;
    for (const auto& p : c.params)
      body += "|" + p;
    if (auto q = form_value(c.query, "q"))
      body += "?" + std::string(*q);
    return text_response(http::status::ok, "text/plain", body);
  };
}

class ApiRouter : public ::testing::Test {
protected:
  ApiRouter() {
    r.add(http::verb::get, "/", echo("root"));
    r.add(http::verb::post, "/api/v1/products", echo("create"));
    r.add(http::verb::get, "/api/v1/products", echo("list"));
    r.add(http::verb::get, "/api/v1/products/{pk}", echo("show"));
    r.add(http::verb::post, "/api/v1/products/{pk}/devices/batch", echo("batch"));
    r.add(http::verb::get, "/api/v1/products/{pk}/devices/{dn}", echo("device"));
    r.add(http::verb::delete_, "/api/v1/products/{pk}/devices/{dn}", echo("delete"));
  }
  std::string body(http::verb v, std::string target) { return r.dispatch(make(v, target)).body(); }
  unsigned status(http::verb v, std::string target) {
    return r.dispatch(make(v, target)).result_int();
  }
  router r;
};

TEST_F(ApiRouter, MatchesAndCaptures) {
  EXPECT_EQ(body(http::verb::get, "/"), "root");
  EXPECT_EQ(body(http::verb::post, "/api/v1/products"), "create");
  EXPECT_EQ(body(http::verb::get, "/api/v1/products"), "list");
  EXPECT_EQ(body(http::verb::get, "/api/v1/products/pk1"), "show|pk1");
  EXPECT_EQ(body(http::verb::get, "/api/v1/products/pk1/devices/dev1"), "device|pk1|dev1");
  EXPECT_EQ(body(http::verb::get, "/api/v1/products/pk1?q=a+b"), "show|pk1?a b");
}

TEST_F(ApiRouter, LiteralBeforeCaptureByOrder) {
  EXPECT_EQ(body(http::verb::post, "/api/v1/products/p/devices/batch"), "batch|p");
  // a device called "batch" is still reachable by the other methods
  EXPECT_EQ(body(http::verb::get, "/api/v1/products/p/devices/batch"), "device|p|batch");
  EXPECT_EQ(body(http::verb::delete_, "/api/v1/products/p/devices/batch"), "delete|p|batch");
}

TEST_F(ApiRouter, PercentDecodesSegments) {
  EXPECT_EQ(body(http::verb::get, "/api/v1/products/p/devices/dev%401%3Ax"), "device|p|dev@1:x");
  EXPECT_EQ(body(http::verb::get, "/api/v1/products/p/devices/a%20b"), "device|p|a b");
  EXPECT_EQ(status(http::verb::get, "/api/v1/products/p%zz"), 400u);
  EXPECT_EQ(status(http::verb::get, "/api/v1/products/p?q=%"), 400u);
}

TEST_F(ApiRouter, NotFound) {
  for (const char* t : {"/nope", "/api/v1/products/p/extra", "/api/v1"}) {
    const auto res = r.dispatch(make(http::verb::get, t));
    EXPECT_EQ(res.result_int(), 404u) << t;
    const auto v = boost::json::parse(res.body());
    EXPECT_EQ(v.at("code").as_int64(), 404) << t;
    EXPECT_TRUE(v.at("message").is_string());
    EXPECT_EQ(res[http::field::content_type], "application/json");
  }
  EXPECT_EQ(status(http::verb::get, "relative"), 400u);
}

// One resource, one spelling: what the token check decides on is what is routed.
TEST_F(ApiRouter, RefusesNonCanonicalPaths) {
  for (const char* t :
       {"/%61pi/v1/products", "/ap%69/v1/products", "/api/v1/products/", "//",
        "/api/v1/products//devices/x", "/api/./v1/products", "/x/../api/v1/products",
        "/%2e%2e/api/v1/products", "/api/v1/products/p/devices/a%2Fb", "/api/v1/products/a%00b",
        "/api/v1/products/%7e"}) {
    const auto res = r.dispatch(make(http::verb::get, t));
    EXPECT_EQ(res.result_int(), 400u) << t;
    EXPECT_NE(res.body().find("non-canonical"), std::string::npos) << t << res.body();
  }
}

TEST(ApiTarget, DecodesOnce) {
  auto t = parse_target("/api/v1/products/p%40q?x=1&y=a%20b+c&x=2");
  ASSERT_TRUE(std::holds_alternative<target>(t));
  const auto& v = std::get<target>(t);
  EXPECT_EQ(v.segments, (std::vector<std::string>{"api", "v1", "products", "p@q"}));
  EXPECT_TRUE(v.needs_token());
  EXPECT_EQ(form_value(v.query, "x"), "1");
  EXPECT_EQ(form_value(v.query, "y"), "a b c");
  EXPECT_FALSE(std::get<target>(parse_target("/")).needs_token());
  EXPECT_FALSE(std::get<target>(parse_target("/healthz")).needs_token());
  EXPECT_TRUE(std::holds_alternative<problem>(parse_target("relative")));
  EXPECT_TRUE(std::holds_alternative<problem>(parse_target("/a b")));
}

TEST_F(ApiRouter, MethodNotAllowedListsAllow) {
  const auto res = r.dispatch(make(http::verb::put, "/api/v1/products"));
  EXPECT_EQ(res.result_int(), 405u);
  EXPECT_EQ(res[http::field::allow], "POST, GET");
  EXPECT_EQ(boost::json::parse(res.body()).at("code").as_int64(), 405);
  const auto dev = r.dispatch(make(http::verb::post, "/api/v1/products/p/devices/d"));
  EXPECT_EQ(dev.result_int(), 405u);
  EXPECT_EQ(dev[http::field::allow], "GET, DELETE");
}

} // namespace
} // namespace thingport::api
