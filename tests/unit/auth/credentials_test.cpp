#include "auth/credentials.hpp"

#include <gtest/gtest.h>

#include "auth/login.hpp"
#include "fake_lookup.hpp"

namespace thingport::auth {
namespace {

TEST(AuthCredentials, WorkedExample) {
  const mqtt_credentials c = device_credentials(
      "pk", "device", "secret",
      {.client_id = "12345", .method = sign_method::hmacsha1, .securemode = 3, .timestamp = "789"});
  EXPECT_EQ(c.client_id, "12345|securemode=3,signmethod=hmacsha1,timestamp=789|");
  EXPECT_EQ(c.username, "device&pk");
  EXPECT_EQ(c.password, "fafd82a3d602b37fb0fa8b7892f24a477f851a14");
}

TEST(AuthCredentials, DefaultsAndFlags) {
  const mqtt_credentials c = device_credentials("pk", "device", "secret", {.ss = true, .ext = 1});
  EXPECT_EQ(c.client_id, "pk.device|securemode=3,signmethod=hmacsha256,_ss=1,ext=1|");
  EXPECT_EQ(c.password, device_sign(sign_method::hmacsha256, "secret",
                                    {"pk.device", "device", "pk", std::nullopt}));
}

TEST(AuthCredentials, RoundTripThroughLogin) {
  test::fake_lookup lookup;
  lookup.devices[{"pk", "device"}] = {"secret", true, true, std::nullopt};
  lookup.apps["ak1"] = {"asecret", true, {"pk"}};
  for (sign_method m : {sign_method::hmacmd5, sign_method::hmacsha1, sign_method::hmacsha256}) {
    const mqtt_credentials c = device_credentials("pk", "device", "secret", {.method = m});
    connect_request r;
    r.client_id = c.client_id;
    r.username = c.username;
    r.password = c.password;
    r.keepalive = 60;
    const login_result res = login(r, lookup);
    EXPECT_TRUE(res.accepted()) << to_string(m) << ": " << res.ec.message();
  }
  const mqtt_credentials a = app_credentials("ak1", "asecret", "backend", "1700000000000");
  EXPECT_EQ(a.client_id, "backend|authType=app,signmethod=hmacsha256,timestamp=1700000000000|");
  connect_request r;
  r.client_id = a.client_id;
  r.username = a.username;
  r.password = a.password;
  r.keepalive = 60;
  EXPECT_TRUE(login(r, lookup).accepted());
}

} // namespace
} // namespace thingport::auth
