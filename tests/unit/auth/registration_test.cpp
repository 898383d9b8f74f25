#include "auth/registration.hpp"

#include <gtest/gtest.h>

#include <cctype>

#include "auth/sign.hpp"
#include "fake_lookup.hpp"

namespace thingport::auth {
namespace {

namespace rc = registration_code;

class AuthHttpRegistration : public ::testing::Test {
protected:
  AuthHttpRegistration() {
    lookup.products["pk"] = {"psecret", true};
    lookup.products["nodyn"] = {"psecret", false};
    lookup.devices[{"pk", "device"}] = {"devsecret", true, false, std::nullopt};
    lookup.devices[{"pk", "active"}] = {"s", true, true, std::nullopt};
    lookup.devices[{"pk", "disabled"}] = {"s", false, false, std::nullopt};
  }

  http_register_result run(std::string_view pk, std::string_view dn, std::string_view method,
                           std::string_view secret = "psecret") {
    const auto m = method.empty() ? sign_method::hmacmd5 : *parse_sign_method(method);
    sign = register_sign(m, secret, dn, pk, "r123");
    return check_http_registration({pk, dn, "r123", sign, method}, lookup);
  }

  test::fake_lookup lookup;
  std::string sign;
};

TEST_F(AuthHttpRegistration, Success) {
  const http_register_result r = run("pk", "device", "hmacsha256");
  EXPECT_EQ(r.code, rc::success);
  EXPECT_EQ(r.message, "success");
  EXPECT_EQ(r.device_secret, "devsecret");
  EXPECT_EQ(run("pk", "device", "").code, rc::success); // hmacmd5 by default
  EXPECT_EQ(run("pk", "device", "HmacSha1").code, rc::success);
}

TEST_F(AuthHttpRegistration, UpperCaseSign) {
  std::string s = register_sign(sign_method::hmacsha1, "psecret", "device", "pk", "r1");
  for (char& c : s) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  EXPECT_EQ(check_http_registration({"pk", "device", "r1", s, "hmacsha1"}, lookup).code,
            rc::success);
}

TEST_F(AuthHttpRegistration, Refusals) {
  EXPECT_EQ(run("pk", "device", "hmacsha256", "wrong").code, rc::bad_sign);
  EXPECT_EQ(run("nodyn", "device", "hmacsha256").code, rc::registration_disabled);
  EXPECT_EQ(run("nopk", "device", "hmacsha256").code, rc::product_not_found);
  EXPECT_EQ(run("pk", "nodevice", "hmacsha256").code, rc::device_not_found);
  EXPECT_EQ(run("pk", "active", "hmacsha256").code, rc::device_already_active);
  EXPECT_EQ(run("pk", "disabled", "hmacsha256").code, rc::device_disabled);
  EXPECT_TRUE(run("pk", "active", "hmacsha256").device_secret.empty());
  lookup.unavailable = true;
  EXPECT_EQ(run("pk", "device", "hmacsha256").code, rc::unavailable);
}

TEST_F(AuthHttpRegistration, BadParameters) {
  EXPECT_EQ(check_http_registration({"pk", "device", "r", "00", "hmacsha512"}, lookup).code,
            rc::bad_parameter);
  EXPECT_EQ(check_http_registration({"p/k", "device", "r", "00", ""}, lookup).code,
            rc::bad_parameter);
  EXPECT_EQ(check_http_registration({"pk", "dev#", "r", "00", ""}, lookup).code, rc::bad_parameter);
  EXPECT_EQ(check_http_registration({"pk", "device", "", "00", ""}, lookup).code,
            rc::bad_parameter);
  EXPECT_EQ(check_http_registration({"pk", "device", "r", "", ""}, lookup).code, rc::bad_parameter);
  EXPECT_EQ(lookup.calls, 0);
}

TEST_F(AuthHttpRegistration, UnknownDeviceNotRevealedWithoutSign) {
  EXPECT_EQ(run("pk", "nodevice", "hmacsha256", "wrong").code, rc::bad_sign);
}

} // namespace
} // namespace thingport::auth
