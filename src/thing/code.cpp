#include "thing/code.hpp"

#include <string>

namespace thingport::thing {

namespace {

class category final : public std::error_category {
public:
  const char* name() const noexcept override { return "thingport.thing"; }
  std::string message(int ev) const override {
    return std::string(message_of(static_cast<code>(ev)));
  }
};

} // namespace

const std::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

int to_int(std::error_code ec) noexcept {
  if (!ec) {
    return static_cast<int>(code::ok);
  }
  if (ec.category() == error_category()) {
    return ec.value();
  }
  return static_cast<int>(code::bad_request);
}

std::string_view message_of(code c) noexcept {
  switch (c) {
  case code::ok:
    return "success";
  case code::bad_request:
    return "request error";
  case code::unauthorized:
    return "request auth error";
  case code::too_many_requests:
    return "too many requests";
  case code::bad_params:
    return "request parameter error";
  case code::server_error:
    return "server error";
  case code::device_not_found:
    return "device not found";
  case code::too_many_properties:
    return "too many properties: at most 200 in one request";
  case code::not_json:
    return "request data is not JSON";
  case code::method_not_found:
    return "method not found";
  case code::param_not_in_model:
    return "tsl parse: params not exist";
  case code::bad_int:
    return "tsl parse: invalid int value";
  case code::bad_float:
    return "tsl parse: invalid float value";
  case code::bad_bool:
    return "tsl parse: invalid bool value";
  case code::bad_enum:
    return "tsl parse: invalid enum value";
  case code::bad_text:
    return "tsl parse: invalid text value";
  case code::bad_date:
    return "tsl parse: invalid date value";
  case code::bad_struct:
    return "tsl parse: invalid struct value";
  case code::not_defined:
    return "tsl parse: identifier not defined";
  case code::bad_double:
    return "tsl parse: invalid double value";
  case code::bad_array_size:
    return "tsl parse: array size is bigger than max size";
  case code::bad_array:
    return "tsl parse: invalid array value";
  }
  return "unknown error";
}

} // namespace thingport::thing
