#include "platform/topology.hpp"

#include <optional>
#include <vector>

#include <boost/json.hpp>

#include "auth/identity.hpp"
#include "auth/registration.hpp"
#include "auth/sign.hpp"
#include "thing/code.hpp"

namespace thingport::platform {

namespace {

namespace json = boost::json;
using thing::code;

topology_answer refuse(code c, std::string message = {}) {
  return {make_error_code(c), json::array{}, std::move(message)};
}

json::array refs_json(const std::vector<store::device_ref>& refs) {
  json::array out;
  out.reserve(refs.size());
  for (const auto& r : refs)
    out.push_back(json::object{{"productKey", r.product_key}, {"deviceName", r.device_name}});
  return out;
}

std::optional<std::string_view> text(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_string())
    return std::nullopt;
  return std::string_view(v->get_string());
}

// The store's answer as the device hears it.
topology_answer store_failure(const std::error_code& ec) {
  if (ec == store::errc::not_found)
    return refuse(code::device_not_found);
  if (ec == store::errc::bad_product_key || ec == store::errc::bad_device_name)
    return refuse(code::bad_params);
  if (ec == store::errc::limit_reached)
    return refuse(code::bad_params, "a gateway holds at most " +
                                        std::to_string(store::max_sub_devices) + " sub-devices");
  return refuse(code::server_error);
}

std::optional<store::node_type> node_of(store::identity_store& ids, std::string_view pk) {
  auto p = ids.get_product(pk);
  if (!p)
    return std::nullopt;
  return p->node;
}

// [{"productKey","deviceName",...}] of 1..max_topo_request objects; nullopt when malformed.
std::optional<std::vector<const json::object*>> items_of(const json::value& params) {
  const auto* arr = params.if_array();
  if (arr == nullptr || arr->empty() || arr->size() > max_topo_request)
    return std::nullopt;
  std::vector<const json::object*> out;
  for (const auto& v : *arr) {
    const auto* o = v.if_object();
    if (o == nullptr || !text(*o, "productKey") || !text(*o, "deviceName"))
      return std::nullopt;
    out.push_back(o);
  }
  return out;
}

// A timestamp as the C SDK sends it (a string of digits) or as the Node SDK does (a number).
std::optional<std::string> timestamp_of(const json::object& o) {
  const auto* v = o.if_contains("timestamp");
  if (v == nullptr)
    return std::nullopt;
  if (v->is_string())
    return std::string(v->get_string());
  if (v->is_int64())
    return std::to_string(v->get_int64());
  if (v->is_uint64())
    return std::to_string(v->get_uint64());
  return std::nullopt;
}

store::device_ref ref_of(const json::object& o) {
  return {std::string(*text(o, "productKey")), std::string(*text(o, "deviceName"))};
}

// One sub-device of thing.topo.add: it exists, is of a subdevice product, and its sign checks
// (HMAC keyed by its secret over clientId, deviceName, productKey, timestamp).
std::optional<topology_answer> check_sub(store::identity_store& ids, const json::object& o) {
  const auto ref = ref_of(o);
  const auto client_id = text(o, "clientId");
  const auto timestamp = timestamp_of(o);
  const auto sign = text(o, "sign");
  auto method_text = text(o, "signmethod"); // the C SDK's spelling
  if (!method_text)
    method_text = text(o, "signMethod"); // the Node SDK's
  if (!client_id || !timestamp || !sign || !method_text)
    return refuse(code::bad_params, "clientId, timestamp, sign and signmethod are required");
  const auto method = auth::parse_sign_method(*method_text);
  if (!method)
    return refuse(code::bad_params, "signmethod must be hmacmd5, hmacsha1 or hmacsha256");
  auto d = ids.get_device(ref.product_key, ref.device_name);
  if (!d)
    return store_failure(d.error());
  const auto node = node_of(ids, ref.product_key);
  if (node != store::node_type::subdevice)
    return refuse(code::bad_request,
                  "device " + ref.product_key + "/" + ref.device_name + " is not a sub-device");
  const auto content =
      auth::device_sign_content({*client_id, ref.device_name, ref.product_key, *timestamp});
  if (!auth::verify_hex_hmac(*method, d->device_secret, content, *sign))
    return refuse(code::unauthorized);
  return std::nullopt;
}

topology_answer add(store::identity_store& ids, std::string_view pk, std::string_view dn,
                    const json::value& params) {
  const auto items = items_of(params);
  if (!items)
    return refuse(code::bad_params, "params must be 1 to 30 sub-devices");
  std::vector<store::device_ref> refs;
  for (const auto* o : *items) {
    if (auto refused = check_sub(ids, *o))
      return *refused;
    refs.push_back(ref_of(*o));
  }
  if (auto r = ids.add_sub_devices(pk, dn, refs); !r)
    return store_failure(r.error()); // past the bound: limit_reached, nothing added
  return {{}, refs_json(refs), {}};
}

topology_answer remove(store::identity_store& ids, std::string_view pk, std::string_view dn,
                       const json::value& params) {
  const auto items = items_of(params);
  if (!items)
    return refuse(code::bad_params, "params must be 1 to 30 sub-devices");
  std::vector<store::device_ref> refs;
  for (const auto* o : *items)
    refs.push_back(ref_of(*o));
  if (auto r = ids.remove_sub_devices(pk, dn, refs); !r)
    return store_failure(r.error()); // one not under this gateway: 6100
  return {{}, refs_json(refs), {}};
}

// thing.sub.register: [{"productKey","deviceName"}] of a subdevice product with dynamic
// registration on, each pre-created by an operator (as direct dynamic registration needs: a
// gateway cannot grow the registry); one never activated gets its secret, others are refused
// (the codes of dynamic registration). It writes nothing, so a refusal leaves nothing behind.
topology_answer register_subs(store::identity_store& ids, const json::value& params) {
  namespace rc = auth::registration_code;
  const auto refuse_rc = [](int c, std::string why) {
    return topology_answer{std::error_code(c, thing::error_category()), json::array{},
                           std::move(why)};
  };
  const auto items = items_of(params);
  if (!items)
    return refuse(code::bad_params, "params must be 1 to 30 sub-devices");
  json::array out;
  for (const auto* o : *items) {
    const auto ref = ref_of(*o);
    auto p = ids.get_product(ref.product_key);
    if (!p)
      return p.error() == store::errc::not_found
                 ? refuse_rc(rc::product_not_found, "product " + ref.product_key + " not found")
                 : store_failure(p.error());
    if (p->node != store::node_type::subdevice)
      return refuse(code::bad_request,
                    "product " + ref.product_key + " is not a sub-device product");
    if (!p->dynamic_registration)
      return refuse_rc(rc::registration_disabled,
                       "dynamic registration is off for product " + ref.product_key);
    auto d = ids.get_device(ref.product_key, ref.device_name);
    if (!d && d.error() == store::errc::not_found)
      return refuse_rc(rc::device_not_found, "device " + ref.device_name + " not found");
    if (!d)
      return store_failure(d.error());
    if (!d->enabled)
      return refuse_rc(rc::device_disabled, "device " + ref.device_name + " is disabled");
    if (d->activated())
      return refuse_rc(rc::device_already_active,
                       "device " + ref.device_name + " has logged in already");
    out.push_back(
        json::object{{"iotId", auth::iot_id(d->product_key, d->device_name,
                                            std::chrono::duration_cast<std::chrono::milliseconds>(
                                                d->created.time_since_epoch())
                                                .count())},
                     {"productKey", d->product_key},
                     {"deviceName", d->device_name},
                     {"deviceSecret", d->device_secret}});
  }
  return {{}, std::move(out), {}};
}

} // namespace

topology_answer serve_topology(store::identity_store& ids, std::string_view gateway_pk,
                               std::string_view gateway_dn, thing::topic_kind kind,
                               const boost::json::value& params) {
  if (node_of(ids, gateway_pk) != store::node_type::gateway)
    return refuse(code::bad_request, "this device is not a gateway");
  switch (kind) {
  case thing::topic_kind::topo_add:
    return add(ids, gateway_pk, gateway_dn, params);
  case thing::topic_kind::topo_delete:
    return remove(ids, gateway_pk, gateway_dn, params);
  case thing::topic_kind::sub_register:
    return register_subs(ids, params);
  default: {
    auto subs = ids.sub_devices(gateway_pk, gateway_dn);
    if (!subs)
      return store_failure(subs.error());
    return {{}, refs_json(*subs), {}};
  }
  }
}

} // namespace thingport::platform
