#include "platform/services.hpp"

#include <utility>

#include "auth/login.hpp"
#include "broker/broker.hpp"

namespace thingport::platform {

const broker::options& services::limits() const noexcept {
  return core_.opts();
}

std::uint64_t services::next_message_id() noexcept {
  return core_.next_message_id();
}

void services::publish(message_ptr m, std::function<void(bool)> done) {
  core_.publish(std::move(m), std::move(done));
}

void services::publish_to_device(std::string_view pk, std::string_view dn, message_ptr m,
                                 std::function<void(bool)> done) {
  core_.publish_to(auth::device_session_key(pk, dn), std::move(m), std::move(done));
}

void services::disconnect_device(std::string_view pk, std::string_view dn, close_reason r,
                                 bool discard) {
  core_.disconnect(auth::device_session_key(pk, dn), r, discard);
}

} // namespace thingport::platform
