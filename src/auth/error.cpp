#include "auth/error.hpp"

#include <string>

namespace thingport::auth {

namespace {

class category final : public std::error_category {
public:
  const char* name() const noexcept override { return "thingport.auth"; }
  std::string message(int ev) const override {
    return std::string(to_string(static_cast<errc>(ev)));
  }
};

} // namespace

const std::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

mqtt::connack_code connack_code_for(errc e) noexcept {
  using mqtt::connack_code;
  switch (e) {
  case errc::ok:
    return connack_code::accepted;
  case errc::unsupported_protocol_level:
    return connack_code::unacceptable_protocol_version;
  case errc::client_id_too_long:
  case errc::id_too_long:
  case errc::unterminated_block:
  case errc::malformed_item:
  case errc::bad_securemode:
  case errc::bad_signmethod:
  case errc::bad_ext:
  case errc::bad_auth_type:
  case errc::missing_random:
  case errc::keepalive_out_of_range:
  case errc::registration_needs_tls:
    return connack_code::identifier_rejected;
  case errc::lookup_unavailable:
    return connack_code::server_unavailable;
  case errc::bad_username:
  case errc::unknown_device:
  case errc::unknown_app:
  case errc::bad_sign:
    return connack_code::bad_username_or_password;
  case errc::device_disabled:
  case errc::registration_disabled:
  case errc::device_already_active:
  case errc::rate_limited:
  case errc::anonymous_not_allowed:
    return connack_code::not_authorized;
  }
  return connack_code::not_authorized; // unknown value: deny
}

std::string_view to_string(errc e) noexcept {
  switch (e) {
  case errc::ok:
    return "ok";
  case errc::unsupported_protocol_level:
    return "unsupported_protocol_level";
  case errc::client_id_too_long:
    return "client_id_too_long";
  case errc::id_too_long:
    return "id_too_long";
  case errc::unterminated_block:
    return "unterminated_block";
  case errc::malformed_item:
    return "malformed_item";
  case errc::bad_securemode:
    return "bad_securemode";
  case errc::bad_signmethod:
    return "bad_signmethod";
  case errc::bad_ext:
    return "bad_ext";
  case errc::bad_auth_type:
    return "bad_auth_type";
  case errc::missing_random:
    return "missing_random";
  case errc::keepalive_out_of_range:
    return "keepalive_out_of_range";
  case errc::registration_needs_tls:
    return "registration_needs_tls";
  case errc::lookup_unavailable:
    return "lookup_unavailable";
  case errc::bad_username:
    return "bad_username";
  case errc::unknown_device:
    return "unknown_device";
  case errc::unknown_app:
    return "unknown_app";
  case errc::bad_sign:
    return "bad_sign";
  case errc::device_disabled:
    return "device_disabled";
  case errc::registration_disabled:
    return "registration_disabled";
  case errc::device_already_active:
    return "device_already_active";
  case errc::rate_limited:
    return "rate_limited";
  case errc::anonymous_not_allowed:
    return "anonymous_not_allowed";
  }
  return "unknown";
}

} // namespace thingport::auth
