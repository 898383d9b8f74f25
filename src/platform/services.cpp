#include "platform/services.hpp"

#include <utility>

#include "auth/login.hpp"
#include "broker/broker.hpp"
#include "platform/topology.hpp"

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
  end_sub_session(pk, dn); // one logged in through a gateway goes too
}

void services::end_sub_session(std::string_view pk, std::string_view dn, std::string_view gpk,
                               std::string_view gdn) {
  if (subs_ != nullptr)
    subs_->end_sub_session({std::string(pk), std::string(dn)}, gpk, gdn);
}

} // namespace thingport::platform
