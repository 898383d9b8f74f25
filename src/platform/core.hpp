// The names of the generic MQTT core (broker/) that the platform builds on: its policy and
// consumer hooks, its messages and close reasons.
#pragma once

#include "broker/close_reason.hpp"
#include "broker/message.hpp"
#include "broker/policy.hpp"
#include "broker/publish_consumer.hpp"

namespace thingport::broker {
class broker;
} // namespace thingport::broker

namespace thingport::platform {

using broker::anonymous_policy;
using broker::client_identity;
using broker::client_policy;
using broker::close_reason;
using broker::connect_decision;
using broker::connect_refusal;
using broker::connection_facts;
using broker::make_message;
using broker::message;
using broker::message_ptr;
using broker::publish_consumer;
using broker::publish_verdict;
using broker::transport_info;
using broker::transport_kind;

} // namespace thingport::platform
