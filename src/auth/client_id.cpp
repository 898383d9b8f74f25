#include "auth/client_id.hpp"

#include <charconv>

#include <boost/algorithm/string/predicate.hpp>

#include "auth/error.hpp"

namespace thingport::auth {

namespace {

template <typename Int> bool parse_int(std::string_view s, Int& out) noexcept {
  if (s.empty()) {
    return false;
  }
  const char* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc{} && ptr == end;
}

std::optional<auth_type> parse_auth_type(std::string_view v) noexcept {
  if (boost::algorithm::iequals(v, "register")) {
    return auth_type::register_device;
  }
  if (boost::algorithm::iequals(v, "regnwl")) {
    return auth_type::register_nwl;
  }
  if (boost::algorithm::iequals(v, "connwl")) {
    return auth_type::connect_nwl;
  }
  if (boost::algorithm::iequals(v, "app")) {
    return auth_type::app;
  }
  return std::nullopt;
}

// Applies one key=value item; returns errc::ok or why the item is refused.
errc apply(client_id& out, std::string_view key, std::string_view value) noexcept {
  if (boost::algorithm::iequals(key, "securemode")) {
    int mode = 0;
    if (!parse_int(value, mode)) {
      return errc::bad_securemode;
    }
    out.securemode = mode;
  } else if (boost::algorithm::iequals(key, "signmethod")) {
    const auto m = parse_sign_method(value);
    if (!m) {
      return errc::bad_signmethod;
    }
    out.signmethod = *m;
  } else if (boost::algorithm::iequals(key, "timestamp")) {
    out.timestamp = value;
  } else if (boost::algorithm::iequals(key, "authType")) {
    const auto t = parse_auth_type(value);
    if (!t) {
      return errc::bad_auth_type;
    }
    out.auth = *t;
  } else if (boost::algorithm::iequals(key, "random")) {
    out.random = value;
  } else if (boost::algorithm::iequals(key, "_ss")) {
    out.ss = value == "1";
  } else if (boost::algorithm::iequals(key, "ext")) {
    std::uint32_t bits = 0;
    if (!parse_int(value, bits)) {
      return errc::bad_ext;
    }
    out.ext = bits;
  } else if (boost::algorithm::iequals(key, "gw")) {
    out.gateway = value == "1";
  } else if (boost::algorithm::iequals(key, "instanceId")) {
    out.instance_id = value;
  } else if (boost::algorithm::iequals(key, "_v")) {
    out.sdk_version = value;
  } else if (boost::algorithm::iequals(key, "lan")) {
    out.lan = value;
  } else if (boost::algorithm::iequals(key, "pid")) {
    out.pid = value;
  } else if (boost::algorithm::iequals(key, "mid")) {
    out.mid = value;
  }
  // Unknown keys are ignored: SDKs add new ones over time.
  return errc::ok;
}

client_id_result fail(errc e) noexcept {
  return {make_error_code(e), {}};
}

} // namespace

std::string_view to_string(auth_type t) noexcept {
  switch (t) {
  case auth_type::device:
    return "device";
  case auth_type::register_device:
    return "register";
  case auth_type::register_nwl:
    return "regnwl";
  case auth_type::connect_nwl:
    return "connwl";
  case auth_type::app:
    return "app";
  }
  return "unknown";
}

client_id_result parse_client_id(std::string_view text, const client_id_limits& limits) noexcept {
  if (text.size() > limits.max_total) {
    return fail(errc::client_id_too_long);
  }
  client_id_result r;
  const auto open = text.find('|');
  if (open == std::string_view::npos) {
    r.value.id = text; // generic client
    return r;
  }
  r.value.aliyun = true;
  r.value.id = text.substr(0, open);
  if (r.value.id.size() > limits.max_id) {
    return fail(errc::id_too_long);
  }
  const auto close = text.find('|', open + 1);
  if (close == std::string_view::npos || close + 1 != text.size()) {
    return fail(errc::unterminated_block);
  }
  std::string_view block = text.substr(open + 1, close - open - 1);
  while (!block.empty()) {
    const auto comma = block.find(',');
    const std::string_view item = block.substr(0, comma);
    block = comma == std::string_view::npos ? std::string_view{} : block.substr(comma + 1);
    if (item.empty()) {
      continue; // "a=1,,b=2" and the trailing comma of Link SDK 4
    }
    const auto eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return fail(errc::malformed_item);
    }
    if (const errc e = apply(r.value, item.substr(0, eq), item.substr(eq + 1)); e != errc::ok) {
      return fail(e);
    }
  }
  return r;
}

} // namespace thingport::auth
