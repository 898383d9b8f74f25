#include "auth/login.hpp"

#include <gtest/gtest.h>

#include "auth/error.hpp"
#include "fake_lookup.hpp"

namespace thingport::auth {
namespace {

using mqtt::connack_code;
using clock_type = connect_rate_limiter::clock;

class AuthLogin : public ::testing::Test {
protected:
  AuthLogin() {
    lookup.products["pk"] = {"psecret", true};
    lookup.products["nodyn"] = {"psecret2", false};
    lookup.devices[{"pk", "device"}] = {"secret", true, true, std::nullopt};
    lookup.devices[{"pk", "disabled"}] = {"secret", false, true, std::nullopt};
    lookup.devices[{"pk", "fresh"}] = {"freshsecret", true, false, std::nullopt};
    lookup.devices[{"pk", "tokendev"}] = {"", true, true, std::string("tok123")};
    lookup.devices[{"nodyn", "device"}] = {"secret", true, false, std::nullopt};
    lookup.apps["ak1"] = {"asecret", true, {"pk", "pk2"}};
    lookup.apps["akoff"] = {"asecret", false, {"pk"}};
  }

  // The worked example of docs/protocol.md "Logging in".
  static connect_request worked() {
    connect_request r;
    r.client_id = "12345|securemode=3,signmethod=hmacsha1,timestamp=789|";
    r.username = "device&pk";
    r.password = "FAFD82A3D602B37FB0FA8B7892F24A477F851A14";
    r.keepalive = 60;
    return r;
  }

  login_result run(const connect_request& r) { return login(r, lookup, policy); }

  void expect_refused(const connect_request& r, errc e, connack_code code) {
    const login_result res = run(r);
    EXPECT_FALSE(res.accepted());
    EXPECT_EQ(res.ec, make_error_code(e)) << res.ec.message();
    EXPECT_EQ(res.code, code);
  }

  test::fake_lookup lookup;
  login_policy policy;
};

TEST_F(AuthLogin, WorkedExampleAccepted) {
  const login_result r = run(worked());
  ASSERT_TRUE(r.accepted()) << r.ec.message();
  EXPECT_EQ(r.code, connack_code::accepted);
  EXPECT_EQ(r.identity.kind, client_kind::device);
  EXPECT_EQ(r.identity.product_key, "pk");
  EXPECT_EQ(r.identity.device_name, "device");
  EXPECT_EQ(r.identity.client_id, "12345");
  EXPECT_EQ(r.identity.session_key, "d|pk/device");
  EXPECT_EQ(r.identity.securemode, 3);
  EXPECT_EQ(r.identity.method, sign_method::hmacsha1);
  EXPECT_TRUE(r.identity.registration_secret.empty());
}

TEST_F(AuthLogin, SessionKeyIndependentOfId) {
  connect_request r = worked();
  r.client_id = "random-7781|securemode=3,signmethod=hmacsha256|";
  const std::string pw =
      device_sign(sign_method::hmacsha256, "secret", {"random-7781", "device", "pk", std::nullopt});
  r.password = pw;
  r.clean_session = false;
  const login_result res = run(r);
  ASSERT_TRUE(res.accepted()) << res.ec.message();
  EXPECT_EQ(res.identity.session_key, run(worked()).identity.session_key);
  EXPECT_FALSE(res.identity.clean_session);
}

TEST_F(AuthLogin, DefaultMethodIsMd5AndLowerCaseHexWorks) {
  connect_request r = worked();
  r.client_id = "12345|securemode=3,timestamp=789|";
  const std::string pw =
      device_sign(sign_method::hmacmd5, "secret", {"12345", "device", "pk", "789"});
  r.password = pw;
  const login_result res = run(r);
  ASSERT_TRUE(res.accepted()) << res.ec.message();
  EXPECT_EQ(res.identity.method, sign_method::hmacmd5);
}

TEST_F(AuthLogin, LinkSdk4FlagsAreCarried) {
  connect_request r = worked();
  r.client_id =
      "pk.device|securemode=2,signmethod=hmacsha256,_ss=1,lan=C,_v=sdk-c-4.x,ext=3,gw=1,|";
  const std::string pw =
      device_sign(sign_method::hmacsha256, "secret", {"pk.device", "device", "pk", std::nullopt});
  r.password = pw;
  const login_result res = run(r);
  ASSERT_TRUE(res.accepted()) << res.ec.message();
  EXPECT_TRUE(res.identity.ss);
  EXPECT_EQ(res.identity.ext, 3U);
  EXPECT_TRUE(res.identity.rrpc_ext());
  EXPECT_TRUE(res.identity.gateway);
  EXPECT_EQ(res.identity.securemode, 2); // informational: plain transport still accepted
}

TEST_F(AuthLogin, EmptyIdSignedEitherWay) {
  connect_request r = worked();
  r.client_id = "|securemode=3,signmethod=hmacmd5|";
  const std::string with = device_sign(sign_method::hmacmd5, "secret", {"", "device", "pk", {}});
  const std::string without =
      device_sign(sign_method::hmacmd5, "secret", {std::nullopt, "device", "pk", {}});
  r.password = with;
  EXPECT_TRUE(run(r).accepted());
  r.password = without;
  EXPECT_TRUE(run(r).accepted());
  // With a non-empty id, leaving clientId out is a bad sign.
  r.client_id = "abc|signmethod=hmacmd5|";
  expect_refused(r, errc::bad_sign, connack_code::bad_username_or_password);
}

TEST_F(AuthLogin, Code1ProtocolLevel) {
  connect_request r = worked();
  r.protocol_level = 5;
  expect_refused(r, errc::unsupported_protocol_level, connack_code::unacceptable_protocol_version);
  r.protocol_level = 3;
  EXPECT_TRUE(run(r).accepted());
}

TEST_F(AuthLogin, Code2ClientIdAndKeepalive) {
  connect_request r = worked();
  r.client_id = "12345|securemode=3,signmethod=hmacsha1,timestamp=789";
  expect_refused(r, errc::unterminated_block, connack_code::identifier_rejected);
  r.client_id = "12345|securemode=3,signmethod=sha1|";
  expect_refused(r, errc::bad_signmethod, connack_code::identifier_rejected);
  r.client_id = std::string(10000, 'c');
  expect_refused(r, errc::client_id_too_long, connack_code::identifier_rejected);

  r = worked();
  for (std::uint16_t k : {0, 29, 1201, 65535}) {
    r.keepalive = k;
    expect_refused(r, errc::keepalive_out_of_range, connack_code::identifier_rejected);
  }
  for (std::uint16_t k : {30, 1200}) {
    r.keepalive = k;
    EXPECT_TRUE(run(r).accepted()) << k;
  }
}

TEST_F(AuthLogin, Code3StoreUnavailable) {
  lookup.unavailable = true;
  expect_refused(worked(), errc::lookup_unavailable, connack_code::server_unavailable);
  lookup.unavailable = false;
  lookup.throws = true;
  expect_refused(worked(), errc::lookup_unavailable, connack_code::server_unavailable);
}

TEST_F(AuthLogin, Code4BadSign) {
  connect_request r = worked();
  r.password = "FAFD82A3D602B37FB0FA8B7892F24A477F851A15";
  expect_refused(r, errc::bad_sign, connack_code::bad_username_or_password);
  r.password = std::nullopt;
  expect_refused(r, errc::bad_sign, connack_code::bad_username_or_password);
  r.password = "";
  expect_refused(r, errc::bad_sign, connack_code::bad_username_or_password);
  r = worked();
  r.client_id = "12346|securemode=3,signmethod=hmacsha1,timestamp=789|"; // id is signed
  expect_refused(r, errc::bad_sign, connack_code::bad_username_or_password);
  r = worked();
  r.client_id = "12345|securemode=3,signmethod=hmacsha1,timestamp=790|"; // timestamp too
  expect_refused(r, errc::bad_sign, connack_code::bad_username_or_password);
}

TEST_F(AuthLogin, Code4UnknownDevice) {
  connect_request r = worked();
  r.username = "nodevice&pk";
  expect_refused(r, errc::unknown_device, connack_code::bad_username_or_password);
  r.username = "device&otherpk";
  expect_refused(r, errc::unknown_device, connack_code::bad_username_or_password);
}

TEST_F(AuthLogin, Code4BadUsername) {
  connect_request r = worked();
  for (std::string_view u :
       {"devicepk", "device&pk&x", "dev/ice&pk", "device&p+k", "device&#", "dev", ""}) {
    r.username = u;
    expect_refused(r, errc::bad_username, connack_code::bad_username_or_password);
  }
  const std::string nul("dev\0ce&pk", 9);
  r.username = nul;
  expect_refused(r, errc::bad_username, connack_code::bad_username_or_password);
  r.username = std::nullopt;
  expect_refused(r, errc::bad_username, connack_code::bad_username_or_password);
  EXPECT_EQ(lookup.calls, 0); // refused before touching the store
}

TEST_F(AuthLogin, Code5Disabled) {
  connect_request r = worked();
  r.username = "disabled&pk";
  const std::string pw =
      device_sign(sign_method::hmacsha1, "secret", {"12345", "disabled", "pk", "789"});
  r.password = pw;
  expect_refused(r, errc::device_disabled, connack_code::not_authorized);
  // Without the secret one learns nothing about the device's state.
  r.password = "00";
  expect_refused(r, errc::bad_sign, connack_code::bad_username_or_password);
}

TEST_F(AuthLogin, Code5RateLimited) {
  connect_rate_limiter limiter;
  const auto t0 = clock_type::time_point{} + std::chrono::hours(1);
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(login(worked(), lookup, policy, &limiter, t0 + std::chrono::seconds(i)).accepted());
  }
  const login_result r = login(worked(), lookup, policy, &limiter, t0 + std::chrono::seconds(10));
  EXPECT_EQ(r.ec, make_error_code(errc::rate_limited));
  EXPECT_EQ(r.code, connack_code::not_authorized);
  // Failed signs do not use up a device's budget (only the secret's holder can)...
  connect_request other = worked();
  other.username = "fresh&pk";
  for (int i = 0; i < 20; ++i) {
    connect_request wrong = other;
    wrong.password = "00";
    EXPECT_EQ(login(wrong, lookup, policy, &limiter, t0).ec, make_error_code(errc::bad_sign));
  }
  // ...and the first device may come back two minutes later.
  EXPECT_TRUE(login(worked(), lookup, policy, &limiter, t0 + std::chrono::minutes(2)).accepted());
}

TEST_F(AuthLogin, FailuresAreCountedBySourceAndDoNotTellDevicesApart) {
  connect_rate_limiter failures(connect_rate_limiter::options{3, std::chrono::minutes(1), 1000});
  const auto t0 = clock_type::time_point{} + std::chrono::hours(1);
  connect_request wrong = worked();
  wrong.password = "00";
  wrong.source = "10.0.0.1";
  connect_request unknown = wrong;
  unknown.username = "nosuch&pk";
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(login(wrong, lookup, policy, nullptr, t0, &failures).code,
              connack_code::bad_username_or_password);
  }
  // The source is over its failures: refused before any lookup, whoever it names.
  EXPECT_EQ(login(wrong, lookup, policy, nullptr, t0, &failures).ec,
            make_error_code(errc::rate_limited));
  EXPECT_EQ(login(unknown, lookup, policy, nullptr, t0, &failures).ec,
            make_error_code(errc::rate_limited));
  // The rightful device from another address is not locked out.
  connect_request right = worked();
  right.source = "10.0.0.2";
  EXPECT_TRUE(login(right, lookup, policy, nullptr, t0, &failures).accepted());
  // Unknown and existing devices get the same answer from a fresh source.
  unknown.source = "10.0.0.3";
  wrong.source = "10.0.0.4";
  EXPECT_EQ(login(unknown, lookup, policy, nullptr, t0, &failures).code,
            login(wrong, lookup, policy, nullptr, t0, &failures).code);
}

TEST_F(AuthLogin, GenericClients) {
  connect_request r;
  r.client_id = "mosq-123";
  r.keepalive = 0;
  expect_refused(r, errc::anonymous_not_allowed, connack_code::not_authorized);
  policy.allow_anonymous = true;
  const login_result res = run(r);
  ASSERT_TRUE(res.accepted());
  EXPECT_EQ(res.identity.kind, client_kind::anonymous);
  EXPECT_EQ(res.identity.session_key, "mosq-123");
  EXPECT_EQ(res.identity.client_id, "mosq-123");
  // An Aliyun-style id is still checked as a device when anonymous clients are allowed.
  connect_request bad = worked();
  bad.password = "00";
  expect_refused(bad, errc::bad_sign, connack_code::bad_username_or_password);
}

TEST_F(AuthLogin, RegisterOverTls) {
  connect_request r;
  r.client_id = "fresh|securemode=2,authType=register,random=123,signmethod=hmacsha256|";
  r.username = "fresh&pk";
  const std::string pw = register_sign(sign_method::hmacsha256, "psecret", "fresh", "pk", "123");
  r.password = pw;
  r.keepalive = 0; // not checked for registration
  r.is_tls = true;
  const login_result res = run(r);
  ASSERT_TRUE(res.accepted()) << res.ec.message();
  EXPECT_EQ(res.identity.kind, client_kind::register_device);
  EXPECT_EQ(res.identity.registration_secret, "freshsecret");
  EXPECT_EQ(res.identity.session_key, "r|pk/fresh");

  connect_request plain = r;
  plain.is_tls = false;
  expect_refused(plain, errc::registration_needs_tls, connack_code::identifier_rejected);

  connect_request no_random = r;
  no_random.client_id = "fresh|securemode=2,authType=register,signmethod=hmacsha256|";
  expect_refused(no_random, errc::missing_random, connack_code::identifier_rejected);

  connect_request bad = r;
  const std::string badpw = register_sign(sign_method::hmacsha256, "wrong", "fresh", "pk", "123");
  bad.password = badpw;
  expect_refused(bad, errc::bad_sign, connack_code::bad_username_or_password);
}

TEST_F(AuthLogin, RegisterRefusals) {
  connect_request r;
  r.is_tls = true;
  r.client_id = "x|authType=register,random=9|";
  // The strings outlive each call: connect_request holds views.
  std::string user;
  std::string pw;
  auto with = [&](std::string_view dn, std::string_view pk, std::string_view secret) {
    user = std::string(dn) + "&" + std::string(pk);
    pw = register_sign(sign_method::hmacmd5, secret, dn, pk, "9");
    r.username = user;
    r.password = pw;
    return r;
  };
  expect_refused(with("device", "pk", "psecret"), errc::device_already_active,
                 connack_code::not_authorized);
  expect_refused(with("unknown", "pk", "psecret"), errc::unknown_device,
                 connack_code::bad_username_or_password);
  expect_refused(with("disabled", "pk", "psecret"), errc::device_disabled,
                 connack_code::not_authorized);
  expect_refused(with("device", "nodyn", "psecret2"), errc::registration_disabled,
                 connack_code::not_authorized);
  expect_refused(with("device", "nopk", "x"), errc::unknown_device,
                 connack_code::bad_username_or_password);
}

TEST_F(AuthLogin, RegisterWithoutPrecreatedDevice) {
  connect_request r;
  r.is_tls = true;
  r.client_id = "x|securemode=-2,authType=regnwl,random=r1,signmethod=hmacsha1|";
  r.username = "brandnew&pk";
  const std::string pw = register_sign(sign_method::hmacsha1, "psecret", "brandnew", "pk", "r1");
  r.password = pw;
  const login_result res = run(r);
  ASSERT_TRUE(res.accepted()) << res.ec.message();
  EXPECT_EQ(res.identity.kind, client_kind::register_nwl);
  EXPECT_EQ(res.identity.device_name, "brandnew");
  EXPECT_TRUE(res.identity.registration_secret.empty());
}

TEST_F(AuthLogin, ConnectWithDeviceToken) {
  connect_request r;
  r.client_id = "x|securemode=-2,authType=connwl|";
  r.username = "tokendev&pk";
  r.password = "tok123";
  r.keepalive = 60;
  const login_result res = run(r);
  ASSERT_TRUE(res.accepted()) << res.ec.message();
  EXPECT_EQ(res.identity.kind, client_kind::device);
  EXPECT_EQ(res.identity.auth, auth_type::connect_nwl);
  EXPECT_EQ(res.identity.session_key, "d|pk/tokendev");
  r.password = "TOK123";
  expect_refused(r, errc::bad_sign, connack_code::bad_username_or_password);
  r.username = "device&pk"; // has no token
  r.password = "";
  expect_refused(r, errc::bad_sign, connack_code::bad_username_or_password);
}

TEST_F(AuthLogin, Application) {
  connect_request r;
  r.client_id = "backend1|authType=app,signmethod=hmacsha256,timestamp=1700000000000|";
  r.username = "ak1";
  const std::string pw = app_sign("asecret", "ak1", "backend1", "1700000000000");
  r.password = pw;
  r.keepalive = 60;
  const login_result res = run(r);
  ASSERT_TRUE(res.accepted()) << res.ec.message();
  EXPECT_EQ(res.identity.kind, client_kind::app);
  EXPECT_EQ(res.identity.app_key, "ak1");
  EXPECT_EQ(res.identity.app_products, (std::vector<std::string>{"pk", "pk2"}));
  EXPECT_EQ(res.identity.session_key, "a|ak1|backend1");

  connect_request nomethod = r; // hmacsha256 is the default for applications
  nomethod.client_id = "backend1|authType=app,timestamp=1700000000000|";
  EXPECT_TRUE(run(nomethod).accepted());

  connect_request bad = r;
  const std::string badpw = app_sign("wrong", "ak1", "backend1", "1700000000000");
  bad.password = badpw;
  expect_refused(bad, errc::bad_sign, connack_code::bad_username_or_password);
  connect_request unknown = r;
  unknown.username = "nope";
  expect_refused(unknown, errc::unknown_app, connack_code::bad_username_or_password);
  connect_request badname = r;
  badname.username = "a/k";
  expect_refused(badname, errc::bad_username, connack_code::bad_username_or_password);
  connect_request off = r;
  off.username = "akoff";
  const std::string offpw = app_sign("asecret", "akoff", "backend1", "1700000000000");
  off.password = offpw;
  expect_refused(off, errc::device_disabled, connack_code::not_authorized);
  connect_request ka = r;
  ka.keepalive = 5;
  expect_refused(ka, errc::keepalive_out_of_range, connack_code::identifier_rejected);
}

TEST_F(AuthLogin, FromConnectPacket) {
  mqtt::connect_packet p;
  p.protocol_level = 4;
  p.client_id = "12345|securemode=3,signmethod=hmacsha1,timestamp=789|";
  p.username = "device&pk";
  p.password = "fafd82a3d602b37fb0fa8b7892f24a477f851a14";
  p.keepalive = 300;
  p.clean_session = false;
  const connect_request r = make_connect_request(p, true);
  EXPECT_TRUE(r.is_tls);
  EXPECT_EQ(r.keepalive, 300);
  const login_result res = run(r);
  ASSERT_TRUE(res.accepted());
  EXPECT_FALSE(res.identity.clean_session);
}

TEST(AuthLoginErrors, CodeTable) {
  EXPECT_EQ(connack_code_for(errc::ok), connack_code::accepted);
  EXPECT_EQ(connack_code_for(errc::unsupported_protocol_level),
            connack_code::unacceptable_protocol_version);
  EXPECT_EQ(connack_code_for(errc::registration_needs_tls), connack_code::identifier_rejected);
  EXPECT_EQ(connack_code_for(errc::lookup_unavailable), connack_code::server_unavailable);
  EXPECT_EQ(connack_code_for(errc::unknown_device), connack_code::bad_username_or_password);
  EXPECT_EQ(connack_code_for(errc::rate_limited), connack_code::not_authorized);
  EXPECT_EQ(make_error_code(errc::bad_sign).message(), "bad_sign");
  EXPECT_STREQ(error_category().name(), "thingport.auth");
}

} // namespace
} // namespace thingport::auth
