#include "auth/login.hpp"

#include <exception>

#include "auth/error.hpp"
#include "auth/identity.hpp"

namespace thingport::auth {

namespace {

login_result refuse(errc e) {
  login_result r;
  r.ec = make_error_code(e);
  r.code = connack_code_for(e);
  return r;
}

// Runs one lookup; an exception from the store is the same as no answer.
template <typename F> lookup_status guarded(F&& f) noexcept {
  try {
    return f();
  } catch (...) {
    return lookup_status::unavailable;
  }
}

bool keepalive_ok(const connect_request& req, const login_policy& policy) noexcept {
  return req.keepalive >= policy.keepalive_min && req.keepalive <= policy.keepalive_max;
}

bool rate_ok(connect_rate_limiter* limiter, std::string_view key,
             connect_rate_limiter::clock::time_point now) {
  return limiter == nullptr || limiter->allow(key, now);
}

// The identity fields every Aliyun-style client carries.
login_identity base_identity(client_kind kind, const connect_request& req, const client_id& id) {
  login_identity out;
  out.kind = kind;
  out.auth = id.auth;
  out.client_id = std::string(id.id);
  out.ss = id.ss;
  out.ext = id.ext;
  out.gateway = id.gateway;
  out.securemode = id.securemode;
  out.clean_session = req.clean_session;
  return out;
}

std::string device_key(char prefix, std::string_view pk, std::string_view dn) {
  std::string key;
  key.reserve(3 + pk.size() + dn.size());
  key.push_back(prefix);
  key.push_back('|');
  key.append(pk);
  key.push_back('/');
  key.append(dn);
  return key;
}

// The triplet sign. An empty <id> is signed by some SDKs as "clientId" with an empty value and
// by others left out: both forms are accepted (either one needs the secret).
bool device_sign_ok(sign_method m, std::string_view secret, const client_id& id,
                    const device_username& u, std::string_view password) {
  device_sign_fields f{id.id, u.device_name, u.product_key, id.timestamp};
  if (verify_hex_hmac(m, secret, device_sign_content(f), password)) {
    return true;
  }
  if (id.id.empty()) {
    f.client_id.reset();
    return verify_hex_hmac(m, secret, device_sign_content(f), password);
  }
  return false;
}

login_result login_device(const connect_request& req, const client_id& id,
                          const device_lookup& lookup, const login_policy& policy,
                          connect_rate_limiter* limiter,
                          connect_rate_limiter::clock::time_point now) {
  if (!keepalive_ok(req, policy)) {
    return refuse(errc::keepalive_out_of_range);
  }
  const auto user = req.username ? parse_username(*req.username) : std::nullopt;
  if (!user) {
    return refuse(errc::bad_username);
  }
  device_record dev;
  const std::string_view password = req.password.value_or(std::string_view{});
  const sign_method method = id.signmethod.value_or(sign_method::hmacmd5);
  switch (guarded([&] { return lookup.find_device(user->product_key, user->device_name, dev); })) {
  case lookup_status::found:
    break;
  case lookup_status::not_found:
    // The same HMAC work as for a device that exists: the time taken tells nothing either.
    (void)device_sign_ok(method, "no such device", id, *user, password);
    return refuse(errc::unknown_device);
  case lookup_status::unavailable:
    return refuse(errc::lookup_unavailable);
  }
  std::string key = device_session_key(user->product_key, user->device_name);
  if (id.auth == auth_type::connect_nwl) {
    if (!req.password || !dev.device_token || !secure_equal(*dev.device_token, password)) {
      return refuse(errc::bad_sign);
    }
  } else if (!req.password || !device_sign_ok(method, dev.device_secret, id, *user, password)) {
    return refuse(errc::bad_sign);
  }
  if (!rate_ok(limiter, key, now)) {
    return refuse(errc::rate_limited);
  }
  if (!dev.enabled) {
    return refuse(errc::device_disabled);
  }
  login_result r;
  r.identity = base_identity(client_kind::device, req, id);
  r.identity.product_key = std::string(user->product_key);
  r.identity.device_name = std::string(user->device_name);
  r.identity.session_key = std::move(key);
  r.identity.method = method;
  r.identity.iot_id = std::move(dev.iot_id);
  return r;
}

login_result login_register(const connect_request& req, const client_id& id,
                            const device_lookup& lookup, connect_rate_limiter* limiter,
                            connect_rate_limiter::clock::time_point now) {
  if (!req.is_tls) {
    return refuse(errc::registration_needs_tls);
  }
  if (!id.random || id.random->empty()) {
    return refuse(errc::missing_random);
  }
  const auto user = req.username ? parse_username(*req.username) : std::nullopt;
  if (!user) {
    return refuse(errc::bad_username);
  }
  product_record product;
  switch (guarded([&] { return lookup.find_product(user->product_key, product); })) {
  case lookup_status::found:
    break;
  case lookup_status::not_found:
    return refuse(errc::unknown_device);
  case lookup_status::unavailable:
    return refuse(errc::lookup_unavailable);
  }
  if (!product.dynamic_registration) {
    return refuse(errc::registration_disabled);
  }
  std::string key = device_key('r', user->product_key, user->device_name);
  const sign_method method = id.signmethod.value_or(sign_method::hmacmd5);
  if (!req.password ||
      !verify_hex_hmac(method, product.product_secret,
                       register_sign_content(user->device_name, user->product_key, *id.random),
                       *req.password)) {
    return refuse(errc::bad_sign);
  }
  if (!rate_ok(limiter, key, now)) {
    return refuse(errc::rate_limited);
  }
  device_record dev;
  const lookup_status found =
      guarded([&] { return lookup.find_device(user->product_key, user->device_name, dev); });
  if (found == lookup_status::unavailable) {
    return refuse(errc::lookup_unavailable);
  }
  const bool nwl = id.auth == auth_type::register_nwl;
  if (found == lookup_status::not_found && !nwl) {
    return refuse(errc::unknown_device); // "register" needs a pre-created device
  }
  if (found == lookup_status::found) {
    if (!dev.enabled) {
      return refuse(errc::device_disabled);
    }
    if (dev.activated) {
      return refuse(errc::device_already_active); // 6289: never hand out a used secret
    }
  }
  login_result r;
  r.identity =
      base_identity(nwl ? client_kind::register_nwl : client_kind::register_device, req, id);
  r.identity.product_key = std::string(user->product_key);
  r.identity.device_name = std::string(user->device_name);
  r.identity.session_key = std::move(key);
  r.identity.method = method;
  if (!nwl) {
    r.identity.registration_secret = std::move(dev.device_secret);
  }
  return r;
}

login_result login_app(const connect_request& req, const client_id& id, const device_lookup& lookup,
                       const login_policy& policy, connect_rate_limiter* limiter,
                       connect_rate_limiter::clock::time_point now) {
  if (!keepalive_ok(req, policy)) {
    return refuse(errc::keepalive_out_of_range);
  }
  if (!req.username || !valid_app_key(*req.username)) {
    return refuse(errc::bad_username);
  }
  const std::string_view app_key = *req.username;
  app_record app;
  switch (guarded([&] { return lookup.find_app(app_key, app); })) {
  case lookup_status::found:
    break;
  case lookup_status::not_found:
    return refuse(errc::unknown_app);
  case lookup_status::unavailable:
    return refuse(errc::lookup_unavailable);
  }
  std::string key;
  key.reserve(3 + app_key.size() + id.id.size());
  key.append("a|").append(app_key).append("|").append(id.id);
  const sign_method method = id.signmethod.value_or(sign_method::hmacsha256);
  if (!req.password ||
      !verify_hex_hmac(method, app.app_secret, app_sign_content(app_key, id.id, id.timestamp),
                       *req.password)) {
    return refuse(errc::bad_sign);
  }
  if (!rate_ok(limiter, key, now)) {
    return refuse(errc::rate_limited);
  }
  if (!app.enabled) {
    return refuse(errc::device_disabled);
  }
  login_result r;
  r.identity = base_identity(client_kind::app, req, id);
  r.identity.app_key = std::string(app_key);
  r.identity.app_products = std::move(app.products);
  r.identity.session_key = std::move(key);
  r.identity.method = method;
  return r;
}

} // namespace

connect_request make_connect_request(const mqtt::connect_packet& p, bool is_tls) noexcept {
  connect_request r;
  r.protocol_level = p.protocol_level;
  r.client_id = p.client_id;
  if (p.username) {
    r.username = *p.username;
  }
  if (p.password) {
    r.password = *p.password;
  }
  r.keepalive = p.keepalive;
  r.clean_session = p.clean_session;
  r.is_tls = is_tls;
  return r;
}

std::string_view to_string(client_kind k) noexcept {
  switch (k) {
  case client_kind::device:
    return "device";
  case client_kind::register_device:
    return "register";
  case client_kind::register_nwl:
    return "regnwl";
  case client_kind::app:
    return "app";
  case client_kind::anonymous:
    return "anonymous";
  }
  return "unknown";
}

namespace {

login_result login_aliyun(const connect_request& req, const client_id& id,
                          const device_lookup& lookup, const login_policy& policy,
                          connect_rate_limiter* limiter,
                          connect_rate_limiter::clock::time_point now) {
  switch (id.auth) {
  case auth_type::device:
  case auth_type::connect_nwl:
    return login_device(req, id, lookup, policy, limiter, now);
  case auth_type::register_device:
  case auth_type::register_nwl:
    return login_register(req, id, lookup, limiter, now);
  case auth_type::app:
    return login_app(req, id, lookup, policy, limiter, now);
  }
  return refuse(errc::bad_auth_type);
}

bool is_guess(const std::error_code& ec) noexcept {
  return ec == make_error_code(errc::bad_sign) || ec == make_error_code(errc::unknown_device) ||
         ec == make_error_code(errc::unknown_app) || ec == make_error_code(errc::bad_username);
}

} // namespace

login_result login(const connect_request& req, const device_lookup& lookup,
                   const login_policy& policy, connect_rate_limiter* limiter,
                   connect_rate_limiter::clock::time_point now, connect_rate_limiter* failures) {
  if (req.protocol_level != mqtt::protocol_level_311 &&
      req.protocol_level != mqtt::protocol_level_31) {
    return refuse(errc::unsupported_protocol_level);
  }
  const client_id_result parsed = parse_client_id(req.client_id, policy.client_id);
  if (parsed.ec) {
    return refuse(static_cast<errc>(parsed.ec.value()));
  }
  const client_id& id = parsed.value;
  if (!id.aliyun) {
    if (!policy.allow_anonymous) {
      return refuse(errc::anonymous_not_allowed);
    }
    login_result r;
    r.identity.kind = client_kind::anonymous;
    r.identity.client_id = std::string(id.id);
    r.identity.session_key = r.identity.client_id;
    r.identity.clean_session = req.clean_session;
    return r;
  }
  std::string source_key;
  if (failures != nullptr && !req.source.empty()) {
    source_key.append("f|").append(req.source);
    if (failures->blocked(source_key, now)) {
      return refuse(errc::rate_limited);
    }
  }
  login_result r = login_aliyun(req, id, lookup, policy, limiter, now);
  if (!source_key.empty() && is_guess(r.ec)) {
    failures->record(source_key, now);
  }
  return r;
}

std::string device_session_key(std::string_view pk, std::string_view dn) {
  return device_key('d', pk, dn);
}

} // namespace thingport::auth
