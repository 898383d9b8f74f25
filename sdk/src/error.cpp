#include "thingport/device/error.hpp"

#include <string>

namespace thingport::device {

namespace {

class sdk_category final : public std::error_category {
public:
  const char* name() const noexcept override { return "thingport.device"; }
  std::string message(int v) const override {
    switch (static_cast<errc>(v)) {
    case errc::ok:
      return "ok";
    case errc::connect_timeout:
      return "no CONNACK within the connect timeout";
    case errc::keepalive_timeout:
      return "PINGREQ unanswered for a keepalive period";
    case errc::connection_closed:
      return "the server closed the connection";
    case errc::unexpected_packet:
      return "the server sent an unexpected packet";
    case errc::buffer_full:
      return "offline publish buffer full";
    case errc::stopped:
      return "client stopped";
    case errc::invalid_argument:
      return "invalid topic, filter or QoS";
    case errc::subscribe_refused:
      return "subscription refused (SUBACK 0x80)";
    case errc::reply_timeout:
      return "no reply in time";
    case errc::bad_reply:
      return "malformed reply";
    case errc::digest_mismatch:
      return "the downloaded file's size or digest is not the announced one";
    case errc::http_status:
      return "the download was refused by the server";
    }
    return "unknown thingport.device error " + std::to_string(v);
  }
};

class connack_errors final : public std::error_category {
public:
  const char* name() const noexcept override { return "connack"; }
  std::string message(int v) const override {
    const char* what = "unknown return code";
    switch (v) {
    case 0:
      what = "accepted";
      break;
    case 1:
      what = "unacceptable protocol version";
      break;
    case 2:
      what = "identifier rejected";
      break;
    case 3:
      what = "server unavailable";
      break;
    case 4:
      what = "bad user name or password";
      break;
    case 5:
      what = "not authorized";
      break;
    default:
      break;
    }
    return "CONNACK " + std::to_string(v) + ": " + what;
  }
};

} // namespace

const std::error_category& error_category() noexcept {
  static const sdk_category c;
  return c;
}

const std::error_category& connack_category() noexcept {
  static const connack_errors c;
  return c;
}

} // namespace thingport::device
