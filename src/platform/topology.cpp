#include "platform/topology.hpp"

#include <algorithm>
#include <optional>
#include <variant>
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

json::object ref_json(const store::device_ref& r) {
  return json::object{{"productKey", r.product_key}, {"deviceName", r.device_name}};
}

json::array refs_json(const std::vector<store::device_ref>& refs) {
  json::array out;
  out.reserve(refs.size());
  for (const auto& r : refs)
    out.push_back(ref_json(r));
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

// The sign fields of `o`: clientId, timestamp, sign and signmethod (the C SDK's spelling) or
// signMethod (the Node SDK's); a refusal when one is missing or the method is unknown.
struct sign_fields {
  std::string_view client_id, sign;
  std::string timestamp;
  auth::sign_method method;
};
// `outer`: the batch login's params, whose signMethod (Link SDK 4 puts it there) applies to an
// entry without one.
std::variant<sign_fields, topology_answer> sign_fields_of(const json::object& o,
                                                          const json::object* outer = nullptr) {
  const auto client_id = text(o, "clientId");
  const auto timestamp = timestamp_of(o);
  const auto sign = text(o, "sign");
  auto method_text = text(o, "signmethod");
  if (!method_text)
    method_text = text(o, "signMethod");
  if (!method_text && outer != nullptr)
    method_text = text(*outer, "signMethod");
  if (!client_id || !timestamp || !sign || !method_text)
    return refuse(code::bad_params, "clientId, timestamp, sign and signmethod are required");
  const auto method = auth::parse_sign_method(*method_text);
  if (!method)
    return refuse(code::bad_params, "signmethod must be hmacmd5, hmacsha1 or hmacsha256");
  return sign_fields{*client_id, *sign, *timestamp, *method};
}

// The sub-device's sign: HMAC keyed by its secret over clientId, deviceName, productKey and
// timestamp, as the C and Node SDKs sign (one that also covers cleanSession, sorted first, as
// some gateways send it, is accepted too).
bool sign_checks(const sign_fields& f, const json::object& o, const store::device& d) {
  const auto content =
      auth::device_sign_content({f.client_id, d.device_name, d.product_key, f.timestamp});
  if (auth::verify_hex_hmac(f.method, d.device_secret, content, f.sign))
    return true;
  const auto clean = text(o, "cleanSession");
  return clean && auth::verify_hex_hmac(f.method, d.device_secret,
                                        "cleanSession" + std::string(*clean) + content, f.sign);
}

// One sub-device of thing.topo.add: it exists, is of a subdevice product, and its sign checks.
std::optional<topology_answer> check_sub(store::identity_store& ids, const json::object& o) {
  const auto ref = ref_of(o);
  const auto fields = sign_fields_of(o);
  if (const auto* refused = std::get_if<topology_answer>(&fields))
    return *refused;
  auto d = ids.get_device(ref.product_key, ref.device_name);
  if (!d)
    return store_failure(d.error());
  const auto node = node_of(ids, ref.product_key);
  if (node != store::node_type::subdevice)
    return refuse(code::bad_request,
                  "device " + ref.product_key + "/" + ref.device_name + " is not a sub-device");
  if (!sign_checks(std::get<sign_fields>(fields), o, *d))
    return refuse(code::unauthorized);
  return std::nullopt;
}

topology_answer add(store::identity_store& ids, sub_sessions* subs, gateway_state* gw,
                    std::string_view pk, std::string_view dn, const json::value& params) {
  const auto items = items_of(params);
  if (!items)
    return refuse(code::bad_params, "params must be 1 to 30 sub-devices");
  std::vector<store::device_ref> refs;
  for (const auto* o : *items) {
    if (auto refused = check_sub(ids, *o))
      return *refused;
    refs.push_back(ref_of(*o));
  }
  topology_answer answer{{}, refs_json(refs), {}, {}};
  for (const auto& r : refs) { // held by another gateway: it moves here, that one is told
    auto g = ids.gateway_of(r.product_key, r.device_name);
    if (!g)
      return store_failure(g.error());
    if (!g->has_value() || ((*g)->product_key == pk && (*g)->device_name == dn))
      continue;
    auto at = std::find_if(answer.left.begin(), answer.left.end(), [&](const auto& e) {
      return e.first.product_key == (*g)->product_key && e.first.device_name == (*g)->device_name;
    });
    if (at == answer.left.end())
      at = answer.left.insert(answer.left.end(), {**g, {}});
    at->second.push_back(r);
  }
  if (auto r = ids.add_sub_devices(pk, dn, refs); !r)
    return store_failure(r.error()); // past the bound: limit_reached, nothing added
  if (subs != nullptr)
    for (const auto& r : refs)
      subs->end_sub_session(r, pk, dn); // moved here from a gateway it was logged in through
  if (gw != nullptr)
    gw->forget_found(pk, dn, refs); // found, now added
  return answer;
}

topology_answer remove(store::identity_store& ids, sub_sessions* subs, std::string_view pk,
                       std::string_view dn, const json::value& params) {
  const auto items = items_of(params);
  if (!items)
    return refuse(code::bad_params, "params must be 1 to 30 sub-devices");
  std::vector<store::device_ref> refs;
  for (const auto* o : *items)
    refs.push_back(ref_of(*o));
  if (auto r = ids.remove_sub_devices(pk, dn, refs); !r)
    return store_failure(r.error()); // one not under this gateway: 6100
  if (subs != nullptr)
    for (const auto& r : refs)
      subs->end_sub_session(r); // out of its topology: logged out
  return {{}, refs_json(refs), {}};
}

topology_answer refuse_code(int c, std::string why) {
  return {std::error_code(c, thing::error_category()), json::array{}, std::move(why)};
}

// thing.sub.register: [{"productKey","deviceName"}] of a subdevice product with dynamic
// registration on, each pre-created by an operator (as direct dynamic registration needs: a
// gateway cannot grow the registry); one never activated gets its secret, others are refused
// (the codes of dynamic registration). It writes nothing, so a refusal leaves nothing behind.
std::string iot_id_of(const store::device& d) {
  return auth::iot_id(
      d.product_key, d.device_name,
      std::chrono::duration_cast<std::chrono::milliseconds>(d.created.time_since_epoch()).count());
}

// A subdevice product with dynamic registration on (6250 unknown, 400 another node type, 6288
// off); nullopt when it is.
std::optional<topology_answer> check_registration_product(const store::product& p) {
  namespace rc = auth::registration_code;
  if (p.node != store::node_type::subdevice)
    return refuse(code::bad_request, "product " + p.product_key + " is not a sub-device product");
  if (!p.dynamic_registration)
    return refuse_code(rc::registration_disabled,
                       "dynamic registration is off for product " + p.product_key);
  return std::nullopt;
}

std::variant<store::product, topology_answer> registration_product(store::identity_store& ids,
                                                                   std::string_view pk) {
  auto p = ids.get_product(pk);
  if (!p)
    return p.error() == store::errc::not_found
               ? refuse_code(auth::registration_code::product_not_found,
                             "product " + std::string(pk) + " not found")
               : store_failure(p.error());
  if (auto refused = check_registration_product(*p))
    return *refused;
  return std::move(*p);
}

// A pre-created device (6100), enabled (6204), never activated (6289): its registration answer
// {"iotId","productKey","deviceName","deviceSecret"}.
std::variant<json::object, topology_answer> registrable(store::identity_store& ids,
                                                        const store::device_ref& ref) {
  namespace rc = auth::registration_code;
  auto d = ids.get_device(ref.product_key, ref.device_name);
  if (!d && d.error() == store::errc::not_found)
    return refuse_code(rc::device_not_found, "device " + ref.device_name + " not found");
  if (!d)
    return store_failure(d.error());
  if (!d->enabled)
    return refuse_code(rc::device_disabled, "device " + ref.device_name + " is disabled");
  if (d->activated())
    return refuse_code(rc::device_already_active,
                       "device " + ref.device_name + " has logged in already");
  return json::object{{"iotId", iot_id_of(*d)},
                      {"productKey", d->product_key},
                      {"deviceName", d->device_name},
                      {"deviceSecret", d->device_secret}};
}

// thing.sub.register: [{"productKey","deviceName"}] of a subdevice product with dynamic
// registration on, each pre-created by an operator (as direct dynamic registration needs: a
// gateway cannot grow the registry); one never activated gets its secret, others are refused
// (the codes of dynamic registration). It writes nothing, so a refusal leaves nothing behind.
topology_answer register_subs(store::identity_store& ids, const json::value& params) {
  const auto items = items_of(params);
  if (!items)
    return refuse(code::bad_params, "params must be 1 to 30 sub-devices");
  json::array out;
  for (const auto* o : *items) {
    const auto ref = ref_of(*o);
    auto p = registration_product(ids, ref.product_key);
    if (auto* refused = std::get_if<topology_answer>(&p))
      return *refused;
    auto r = registrable(ids, ref);
    if (auto* refused = std::get_if<topology_answer>(&r))
      return *refused;
    out.push_back(std::move(std::get<json::object>(r)));
  }
  return {{}, std::move(out), {}};
}

// thing.proxy.provisioning.product_register (Link SDK 4's gateway): {"proxieds":[1..30
// {"productKey","deviceName","random","signMethod"?,"sign"}]}, each signed with its product's
// secret over deviceName{dn}productKey{pk}random{random} (hmacmd5 when no signMethod, as direct
// dynamic registration). Each is answered on its own: data {"successes":[{"iotId","productKey",
// "deviceName","deviceSecret"}],"failures":[{"productKey","deviceName","code","message"}]}.
topology_answer product_register(store::identity_store& ids, const json::value& params) {
  namespace rc = auth::registration_code;
  const auto* o = params.if_object();
  const auto* list = o != nullptr ? o->if_contains("proxieds") : nullptr;
  const auto items = list != nullptr ? items_of(*list) : std::nullopt;
  if (!items)
    return refuse(code::bad_params, "params must be {\"proxieds\":[1 to 30 sub-devices]}");
  json::array successes, failures;
  for (const auto* e : *items) {
    const auto ref = ref_of(*e);
    const auto fail = [&](const topology_answer& a) {
      failures.push_back(json::object{{"productKey", ref.product_key},
                                      {"deviceName", ref.device_name},
                                      {"code", a.code.value()},
                                      {"message", a.message}});
    };
    const auto random = text(*e, "random");
    const auto sign = text(*e, "sign");
    const auto method_text = text(*e, "signMethod");
    const auto method = method_text ? auth::parse_sign_method(*method_text)
                                    : std::optional(auth::sign_method::hmacmd5);
    if (!random || random->empty() || random->size() > 64 || !sign || !method) {
      fail(refuse_code(rc::bad_parameter, "random, sign and a known signMethod are required"));
      continue;
    }
    auto p = registration_product(ids, ref.product_key);
    if (auto* refused = std::get_if<topology_answer>(&p)) {
      fail(*refused);
      continue;
    }
    const auto& product = std::get<store::product>(p);
    if (!auth::verify_hex_hmac(
            *method, product.product_secret,
            auth::register_sign_content(ref.device_name, ref.product_key, *random), *sign)) {
      fail(refuse_code(rc::bad_sign, "sign check failed"));
      continue;
    }
    auto r = registrable(ids, ref);
    if (auto* refused = std::get_if<topology_answer>(&r))
      fail(*refused);
    else
      successes.push_back(std::move(std::get<json::object>(r)));
  }
  return {
      {}, json::object{{"successes", std::move(successes)}, {"failures", std::move(failures)}}, {}};
}

// thing.list.found: [1..30 {"productKey","deviceName"}] the gateway discovered; kept for the
// API (GET .../topo/found), whether or not they exist yet.
topology_answer list_found(gateway_state* gw, std::string_view gpk, std::string_view gdn,
                           const json::value& params) {
  const auto items = items_of(params);
  if (!items)
    return refuse(code::bad_params, "params must be 1 to 30 sub-devices");
  std::vector<store::device_ref> refs;
  for (const auto* o : *items) {
    auto ref = ref_of(*o);
    if (!auth::valid_product_key(ref.product_key) || !auth::valid_device_name(ref.device_name))
      return refuse(code::bad_params, "productKey or deviceName malformed");
    refs.push_back(std::move(ref));
  }
  if (gw == nullptr)
    return refuse(code::server_error);
  if (!gw->report_found(gpk, gdn, refs,
                        std::chrono::time_point_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now())))
    return refuse(code::bad_params, "a gateway reports at most " +
                                        std::to_string(gateway_state::max_found) +
                                        " found sub-devices");
  return {{}, refs_json(refs), {}};
}

constexpr int no_topology = 6401; // the sub-device is not in this gateway's topology
constexpr int sub_disabled = 6204;

constexpr std::size_t max_batch_sessions = 50; // sub-devices in one batch_login/batch_logout

// A sub-device that may log in through gpk/gdn.
struct login_ok {
  store::device_ref ref;
  std::string iot_id;
  std::string client_id;
};

// One login entry {"productKey","deviceName","clientId","timestamp","signMethod","sign",
// "cleanSession"?}: in this gateway's topology (6401), existing (6100), enabled (6204), with a
// sign that checks (401).
std::variant<login_ok, topology_answer> check_login(store::identity_store& ids,
                                                    std::string_view gpk, std::string_view gdn,
                                                    const json::value& entry,
                                                    const json::object* outer) {
  const auto* o = entry.if_object();
  if (o == nullptr || !text(*o, "productKey") || !text(*o, "deviceName"))
    return refuse(code::bad_params, "a login must be {\"productKey\",\"deviceName\",...}");
  const auto fields = sign_fields_of(*o, outer);
  if (const auto* refused = std::get_if<topology_answer>(&fields))
    return *refused;
  auto ref = ref_of(*o);
  auto d = ids.get_device(ref.product_key, ref.device_name);
  if (!d)
    return store_failure(d.error());
  auto g = ids.gateway_of(ref.product_key, ref.device_name);
  if (!g)
    return store_failure(g.error());
  if (!g->has_value() || (*g)->product_key != gpk || (*g)->device_name != gdn)
    return refuse_code(no_topology, "device " + ref.product_key + "/" + ref.device_name +
                                        " is not a sub-device of this gateway (thing.topo.add)");
  if (!d->enabled)
    return refuse_code(sub_disabled, "device " + ref.device_name + " is disabled");
  if (!sign_checks(std::get<sign_fields>(fields), *o, *d))
    return refuse(code::unauthorized);
  return login_ok{std::move(ref), iot_id_of(*d),
                  std::string(std::get<sign_fields>(fields).client_id)};
}

// combine/login (one entry, answered with it) and combine/batch_login ({"deviceList":[1..50
// entries]}, answered with the list): all checked before any goes online; a refusal names the
// sub-device it is about in its data.
// At most [limits] subdevice_logins_per_second per gateway (a batch counts each entry): 429,
// the code the cloud answers for sub-device logins too frequent.
topology_answer login(store::identity_store& ids, sub_sessions& subs, gateway_state* gw,
                      std::string_view gpk, std::string_view gdn, const json::value& params,
                      bool batch) {
  std::vector<const json::value*> entries;
  if (!batch) {
    entries.push_back(&params);
  } else {
    const auto* o = params.if_object();
    const auto* list = o != nullptr ? o->if_contains("deviceList") : nullptr;
    if (list == nullptr || !list->is_array() || list->get_array().empty() ||
        list->get_array().size() > max_batch_sessions)
      return refuse(code::bad_params, "params must be {\"deviceList\":[1 to 50 logins]}");
    for (const auto& e : list->get_array())
      entries.push_back(&e);
  }
  if (gw != nullptr && !gw->take_logins(gpk, gdn, entries.size()))
    return refuse(code::too_many_requests,
                  "rate limit: more than " + std::to_string(gw->logins_per_second()) +
                      " sub-device logins per second through this gateway");
  std::vector<login_ok> ok;
  const auto* outer = batch ? params.if_object() : nullptr;
  for (const auto* e : entries) {
    auto checked = check_login(ids, gpk, gdn, *e, outer);
    if (auto* refused = std::get_if<topology_answer>(&checked)) {
      if (const auto* o = e->if_object(); o && text(*o, "productKey") && text(*o, "deviceName"))
        refused->data = batch ? json::value(json::array{ref_json(ref_of(*o))})
                              : json::value(ref_json(ref_of(*o)));
      return *refused;
    }
    ok.push_back(std::move(std::get<login_ok>(checked)));
  }
  json::array out;
  for (const auto& l : ok) {
    if (!subs.sub_online(l.ref, l.iot_id, gpk, gdn, l.client_id))
      return refuse(code::server_error, "the gateway is not online");
    out.push_back(ref_json(l.ref));
  }
  if (!batch)
    return {{}, out.front(), {}};
  return {{}, std::move(out), {}};
}

// combine/logout ({"productKey","deviceName"}) and combine/batch_logout (1 to 50 of them, or
// {"deviceList":[...]}); answered 200 also for one not online.
topology_answer logout(sub_sessions& subs, std::string_view gpk, std::string_view gdn,
                       const json::value& params, bool batch) {
  std::vector<const json::value*> entries;
  const json::array* list = params.if_array();
  if (const auto* o = params.if_object(); batch && list == nullptr && o != nullptr)
    if (const auto* l = o->if_contains("deviceList"))
      list = l->if_array();
  if (!batch)
    entries.push_back(&params);
  else if (list != nullptr && !list->empty() && list->size() <= max_batch_sessions)
    for (const auto& e : *list)
      entries.push_back(&e);
  else
    return refuse(code::bad_params, "params must be 1 to 50 {\"productKey\",\"deviceName\"}");
  std::vector<store::device_ref> refs;
  for (const auto* e : entries) {
    const auto* o = e->if_object();
    if (o == nullptr || !text(*o, "productKey") || !text(*o, "deviceName"))
      return refuse(code::bad_params, "a logout must be {\"productKey\",\"deviceName\"}");
    refs.push_back(ref_of(*o));
  }
  json::array out;
  for (const auto& r : refs)
    out.push_back(ref_json(r));
  subs.subs_offline(refs, gpk, gdn);
  if (!batch)
    return {{}, out.front(), {}};
  return {{}, std::move(out), {}};
}

} // namespace

topology_answer serve_topology(store::identity_store& ids, sub_sessions* subs, gateway_state* gw,
                               std::string_view gateway_pk, std::string_view gateway_dn,
                               thing::topic_kind kind, const boost::json::value& params) {
  if (node_of(ids, gateway_pk) != store::node_type::gateway)
    return refuse(code::bad_request, "this device is not a gateway");
  switch (kind) {
  case thing::topic_kind::topo_add:
    return add(ids, subs, gw, gateway_pk, gateway_dn, params);
  case thing::topic_kind::topo_delete:
    return remove(ids, subs, gateway_pk, gateway_dn, params);
  case thing::topic_kind::sub_register:
    return register_subs(ids, params);
  case thing::topic_kind::proxy_product_register:
    return product_register(ids, params);
  case thing::topic_kind::list_found:
    return list_found(gw, gateway_pk, gateway_dn, params);
  case thing::topic_kind::combine_login:
  case thing::topic_kind::combine_batch_login:
    if (subs == nullptr)
      return refuse(code::server_error);
    return login(ids, *subs, gw, gateway_pk, gateway_dn, params,
                 kind == thing::topic_kind::combine_batch_login);
  case thing::topic_kind::combine_logout:
  case thing::topic_kind::combine_batch_logout:
    if (subs == nullptr)
      return refuse(code::server_error);
    return logout(*subs, gateway_pk, gateway_dn, params,
                  kind == thing::topic_kind::combine_batch_logout);
  default: {
    auto held = ids.sub_devices(gateway_pk, gateway_dn);
    if (!held)
      return store_failure(held.error());
    return {{}, refs_json(*held), {}};
  }
  }
}

} // namespace thingport::platform
