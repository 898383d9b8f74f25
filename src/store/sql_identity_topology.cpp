// sql_identity_store, part 2: the gateway topology (the `topology` table of schema version 3).
// Part 1 (opening, products, devices, applications) is sql_identity_store.cpp.
#include "store/sql_connection.hpp"
#include "store/sql_identity_rows.hpp"
#include "store/sql_identity_store.hpp"
#include "store/validate.hpp"

namespace thingport::store {

using namespace sql; // the statements and row helpers of sql_identity_rows.hpp

namespace {

std::error_code check_refs(std::string_view pk, std::string_view dn,
                           std::span<const device_ref> subs) {
  if (auto ec = check_product_key(pk)) {
    return ec;
  }
  if (auto ec = check_device_name(dn)) {
    return ec;
  }
  if (subs.size() > max_batch_devices) {
    return make_error_code(errc::batch_too_large);
  }
  for (const device_ref& d : subs) {
    if (auto ec = check_product_key(d.product_key)) {
      return ec;
    }
    if (auto ec = check_device_name(d.device_name)) {
      return ec;
    }
  }
  return {};
}

} // namespace

result<void> sql_identity_store::add_sub_devices(std::string_view gateway_pk,
                                                 std::string_view gateway_dn,
                                                 std::span<const device_ref> subs) {
  if (auto ec = check_refs(gateway_pk, gateway_dn, subs)) {
    return ec;
  }
  for (const device_ref& d : subs) {
    if (d.product_key == gateway_pk && d.device_name == gateway_dn) {
      return make_error_code(errc::already_exists); // a gateway is not its own sub-device
    }
  }
  std::lock_guard lock(mu_);
  sql::transaction tx(*db_);
  if (auto ec = tx.begin_error()) {
    return ec;
  }
  auto s = db_->prepare(sql_add_sub_device);
  if (!s) {
    return s.error();
  }
  const timestamp at = now();
  for (const device_ref& d : subs) {
    s->bind(1, d.product_key).bind(2, d.device_name).bind(3, gateway_pk).bind(4, gateway_dn);
    s->bind(5, at);
    if (auto ec = s->run()) {
      return ec; // a device that does not exist: not_found
    }
    s->reset();
  }
  // The bound holds inside the transaction: two adds at once cannot both pass it.
  auto held = refs_where(sql_sub_devices, gateway_pk, gateway_dn);
  if (!held) {
    return held.error();
  }
  if (held->size() > max_sub_devices) {
    return make_error_code(errc::limit_reached); // rolled back
  }
  if (auto ec = tx.commit()) {
    return ec;
  }
  return {};
}

result<void> sql_identity_store::remove_sub_devices(std::string_view gateway_pk,
                                                    std::string_view gateway_dn,
                                                    std::span<const device_ref> subs) {
  if (auto ec = check_refs(gateway_pk, gateway_dn, subs)) {
    return ec;
  }
  std::lock_guard lock(mu_);
  sql::transaction tx(*db_);
  if (auto ec = tx.begin_error()) {
    return ec;
  }
  for (const device_ref& d : subs) {
    if (auto r = change_one(*db_, sql_remove_sub_device,
                            [&](statement& s) {
                              s.bind(1, d.product_key)
                                  .bind(2, d.device_name)
                                  .bind(3, gateway_pk)
                                  .bind(4, gateway_dn);
                            });
        !r) {
      return r.error(); // not this gateway's: not_found, nothing removed
    }
  }
  if (auto ec = tx.commit()) {
    return ec;
  }
  return {};
}

result<std::vector<device_ref>> sql_identity_store::refs_where(const char* sql, std::string_view a,
                                                               std::string_view b) const {
  auto s = db_->prepare(sql);
  if (!s) {
    return s.error();
  }
  s->bind(1, a).bind(2, b);
  std::vector<device_ref> out;
  if (auto ec = for_each_row(*s, [&](const statement& row) -> std::error_code {
        out.push_back({row.text(0), row.text(1)});
        return {};
      })) {
    return ec;
  }
  return out;
}

result<std::vector<device_ref>> sql_identity_store::sub_devices(std::string_view gateway_pk,
                                                                std::string_view gateway_dn) const {
  if (auto ec = check_refs(gateway_pk, gateway_dn, {})) {
    return ec;
  }
  std::lock_guard lock(mu_);
  return refs_where(sql_sub_devices, gateway_pk, gateway_dn);
}

result<std::optional<device_ref>>
sql_identity_store::gateway_of(std::string_view product_key, std::string_view device_name) const {
  if (auto ec = check_refs(product_key, device_name, {})) {
    return ec;
  }
  std::lock_guard lock(mu_);
  auto refs = refs_where(sql_gateway_of, product_key, device_name);
  if (!refs) {
    return refs.error();
  }
  if (refs->empty()) {
    return std::optional<device_ref>{};
  }
  return std::optional<device_ref>{std::move(refs->front())};
}

} // namespace thingport::store
