#include "thing/topic.hpp"

#include <array>
#include <cstddef>
#include <optional>

#include "thing/tsl.hpp"

namespace thingport::thing {

namespace {

// Splits off the first level of `s` (which starts after a '/'); `s` keeps the rest without
// its leading '/'. False when the level is empty.
bool take_level(std::string_view& s, std::string_view& level) noexcept {
  const std::size_t slash = s.find('/');
  level = s.substr(0, slash);
  s = slash == std::string_view::npos ? std::string_view{} : s.substr(slash + 1);
  return !level.empty();
}

// "/{prefix}/{pk}/{dn}/..." style topics: after `head` ("/sys/"), the product key and the
// device name; `rest` what follows the device name's '/' (may be empty).
bool identity_levels(std::string_view topic, std::string_view head, topic_info& out,
                     std::string_view& rest) noexcept {
  if (!topic.starts_with(head)) {
    return false;
  }
  rest = topic.substr(head.size());
  return take_level(rest, out.product_key) && take_level(rest, out.device_name);
}

// {head}{pk}/{dn} with nothing after.
bool exact_identity(std::string_view topic, std::string_view head, topic_info& out) noexcept {
  std::string_view rest;
  return identity_levels(topic, head, out, rest) && rest.empty() && !topic.ends_with('/');
}

// The identifier between `head` and `tail` when `s` is exactly head + identifier + tail.
std::optional<std::string_view> between(std::string_view s, std::string_view head,
                                        std::string_view tail) noexcept {
  if (!s.starts_with(head) || !s.ends_with(tail) || s.size() <= head.size() + tail.size()) {
    return std::nullopt;
  }
  const std::string_view id = s.substr(head.size(), s.size() - head.size() - tail.size());
  return valid_identifier(id) ? std::optional(id) : std::nullopt;
}

topic_kind sys_kind(std::string_view rest, std::string_view& identifier) noexcept {
  struct fixed {
    std::string_view rest;
    topic_kind kind;
  };
  static constexpr std::array<fixed, 16> table{{
      {"thing/event/property/post", topic_kind::property_post},
      {"thing/event/property/batch/post", topic_kind::property_batch_post},
      {"thing/event/property/history/post", topic_kind::property_history_post},
      {"thing/event/property/pack/post", topic_kind::property_pack_post},
      {"thing/property/desired/get", topic_kind::desired_get},
      {"thing/property/desired/delete", topic_kind::desired_delete},
      {"thing/deviceinfo/update", topic_kind::deviceinfo_update},
      {"thing/deviceinfo/delete", topic_kind::deviceinfo_delete},
      {"thing/dsltemplate/get", topic_kind::dsltemplate_get},
      {"thing/topo/add", topic_kind::topo_add},
      {"thing/topo/delete", topic_kind::topo_delete},
      {"thing/topo/get", topic_kind::topo_get},
      {"thing/sub/register", topic_kind::sub_register},
      {"thing/list/found", topic_kind::list_found},
      {"thing/proxy/provisioning/product_register", topic_kind::proxy_product_register},
      {"thing/service/property/set_reply", topic_kind::property_set_reply},
  }};
  for (const fixed& f : table) {
    if (rest == f.rest) {
      return f.kind;
    }
  }
  if (const auto id = between(rest, "thing/event/", "/post"); id && *id != "property") {
    identifier = *id;
    return topic_kind::event_post;
  }
  if (const auto id = between(rest, "thing/service/", "_reply")) {
    identifier = *id;
    return topic_kind::service_reply;
  }
  constexpr std::string_view reply_tail = "_reply";
  constexpr std::string_view rrpc_head = "rrpc/response/";
  if (rest.starts_with(rrpc_head) && rest.size() > rrpc_head.size() &&
      rest.find('/', rrpc_head.size()) == std::string_view::npos) {
    identifier = rest.substr(rrpc_head.size());
    return topic_kind::rrpc_response;
  }
  if (rest.ends_with(reply_tail)) {
    return topic_kind::unknown_reply;
  }
  return topic_kind::unknown_request;
}

std::string join(std::initializer_list<std::string_view> parts) {
  std::size_t n = 0;
  for (std::string_view p : parts) {
    n += p.size();
  }
  std::string out;
  out.reserve(n);
  for (std::string_view p : parts) {
    out += p;
  }
  return out;
}

} // namespace

std::string_view to_string(topic_kind k) noexcept {
  switch (k) {
  case topic_kind::not_thing:
    return "not_thing";
  case topic_kind::property_post:
    return "property_post";
  case topic_kind::property_batch_post:
    return "property_batch_post";
  case topic_kind::property_history_post:
    return "property_history_post";
  case topic_kind::property_pack_post:
    return "property_pack_post";
  case topic_kind::event_post:
    return "event_post";
  case topic_kind::desired_get:
    return "desired_get";
  case topic_kind::desired_delete:
    return "desired_delete";
  case topic_kind::deviceinfo_update:
    return "deviceinfo_update";
  case topic_kind::deviceinfo_delete:
    return "deviceinfo_delete";
  case topic_kind::dsltemplate_get:
    return "dsltemplate_get";
  case topic_kind::topo_add:
    return "topo_add";
  case topic_kind::topo_delete:
    return "topo_delete";
  case topic_kind::topo_get:
    return "topo_get";
  case topic_kind::sub_register:
    return "sub_register";
  case topic_kind::list_found:
    return "list_found";
  case topic_kind::proxy_product_register:
    return "proxy_product_register";
  case topic_kind::property_set_reply:
    return "property_set_reply";
  case topic_kind::service_reply:
    return "service_reply";
  case topic_kind::rrpc_response:
    return "rrpc_response";
  case topic_kind::ext_rrpc_response:
    return "ext_rrpc_response";
  case topic_kind::ntp_request:
    return "ntp_request";
  case topic_kind::shadow_update:
    return "shadow_update";
  case topic_kind::ota_inform:
    return "ota_inform";
  case topic_kind::combine_login:
    return "combine_login";
  case topic_kind::combine_logout:
    return "combine_logout";
  case topic_kind::combine_batch_login:
    return "combine_batch_login";
  case topic_kind::combine_batch_logout:
    return "combine_batch_logout";
  case topic_kind::unknown_request:
    return "unknown_request";
  case topic_kind::unknown_reply:
    return "unknown_reply";
  }
  return "unknown";
}

topic_info classify_topic(std::string_view topic) noexcept {
  topic_info out;
  std::string_view rest;
  if (identity_levels(topic, "/sys/", out, rest)) {
    if (rest.empty()) {
      return {};
    }
    out.rest = rest;
    out.kind = sys_kind(rest, out.identifier);
    return out;
  }
  if (identity_levels(topic, "/ext/ntp/", out, rest)) {
    out.kind = rest == "request" ? topic_kind::ntp_request : topic_kind::not_thing;
    return out.kind == topic_kind::not_thing ? topic_info{} : out;
  }
  if (exact_identity(topic, "/shadow/update/", out)) {
    out.kind = topic_kind::shadow_update;
    return out;
  }
  if (identity_levels(topic, "/ext/session/", out, rest)) {
    out.kind = rest == "combine/login"          ? topic_kind::combine_login
               : rest == "combine/logout"       ? topic_kind::combine_logout
               : rest == "combine/batch_login"  ? topic_kind::combine_batch_login
               : rest == "combine/batch_logout" ? topic_kind::combine_batch_logout
                                                : topic_kind::not_thing;
    out.rest = rest;
    return out.kind == topic_kind::not_thing ? topic_info{} : out;
  }
  if (exact_identity(topic, "/ota/device/inform/", out)) {
    out.kind = topic_kind::ota_inform;
    return out;
  }
  constexpr std::string_view ext_rrpc = "/ext/rrpc/";
  if (topic.starts_with(ext_rrpc)) {
    const std::string_view after = topic.substr(ext_rrpc.size());
    // The inner topic keeps its leading '/': /ext/rrpc/{msgId}/{pk}/{dn}/user/...
    const std::size_t slash = after.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 >= after.size()) {
      return {};
    }
    out.kind = topic_kind::ext_rrpc_response;
    out.identifier = after.substr(0, slash);
    out.rest = after.substr(slash);
    return out;
  }
  return {};
}

std::string method_of(const topic_info& t) {
  switch (t.kind) {
  case topic_kind::property_post:
  case topic_kind::property_batch_post:
  case topic_kind::property_history_post:
  case topic_kind::property_pack_post:
  case topic_kind::event_post:
  case topic_kind::desired_get:
  case topic_kind::desired_delete:
  case topic_kind::deviceinfo_update:
  case topic_kind::deviceinfo_delete:
  case topic_kind::dsltemplate_get:
  case topic_kind::topo_add:
  case topic_kind::topo_delete:
  case topic_kind::topo_get:
  case topic_kind::sub_register:
  case topic_kind::combine_login:
  case topic_kind::combine_logout:
  case topic_kind::combine_batch_login:
  case topic_kind::combine_batch_logout:
  case topic_kind::list_found:
  case topic_kind::proxy_product_register:
  case topic_kind::unknown_request:
    break;
  default:
    return {};
  }
  std::string m(t.rest);
  for (char& c : m) {
    if (c == '/') {
      c = '.';
    }
  }
  return m;
}

std::string sys_topic(std::string_view pk, std::string_view dn, std::string_view rest) {
  return join({"/sys/", pk, "/", dn, "/", rest});
}

std::string reply_topic(std::string_view request_topic) {
  return join({request_topic, "_reply"});
}

std::string ntp_request_topic(std::string_view pk, std::string_view dn) {
  return join({"/ext/ntp/", pk, "/", dn, "/request"});
}

std::string shadow_update_topic(std::string_view pk, std::string_view dn) {
  return join({"/shadow/update/", pk, "/", dn});
}

std::string rrpc_response_topic(std::string_view pk, std::string_view dn, std::string_view msg_id) {
  return join({"/sys/", pk, "/", dn, "/rrpc/response/", msg_id});
}

std::string ntp_response_topic(std::string_view pk, std::string_view dn) {
  return join({"/ext/ntp/", pk, "/", dn, "/response"});
}

std::string shadow_get_topic(std::string_view pk, std::string_view dn) {
  return join({"/shadow/get/", pk, "/", dn});
}

std::string property_set_topic(std::string_view pk, std::string_view dn) {
  return sys_topic(pk, dn, "thing/service/property/set");
}

std::string service_topic(std::string_view pk, std::string_view dn, std::string_view service_id) {
  return join({"/sys/", pk, "/", dn, "/thing/service/", service_id});
}

std::string rrpc_request_topic(std::string_view pk, std::string_view dn, std::string_view msg_id) {
  return join({"/sys/", pk, "/", dn, "/rrpc/request/", msg_id});
}

std::string ext_rrpc_topic(std::string_view msg_id, std::string_view topic) {
  return join({"/ext/rrpc/", msg_id, topic});
}

std::string forward_topic(std::string_view pk, std::string_view dn, std::string_view rest) {
  return join({"/", pk, "/", dn, "/", rest});
}

} // namespace thingport::thing
