#include "store/sql_identity_store.hpp"

#include "store/sql_connection.hpp"
#include "store/sql_identity_rows.hpp"
#include "store/validate.hpp"

namespace thingport::store {

// The statements and row mappers of sql_identity_rows.hpp.
using namespace sql;

sql_identity_store::sql_identity_store(std::unique_ptr<sql::connection> db) : db_(std::move(db)) {}

sql_identity_store::~sql_identity_store() = default;

std::error_code sql_identity_store::require_product(std::string_view product_key) const {
  auto s = db_->prepare(sql_product_exists);
  if (!s) {
    return s.error();
  }
  s->bind(1, product_key);
  auto row = s->step();
  if (!row) {
    return row.error();
  }
  if (*row) {
    return {};
  }
  return make_error_code(errc::not_found);
}

// ---- products -------------------------------------------------------------------------------

result<product> sql_identity_store::create_product(const new_product& spec) {
  if (auto ec = check_new_product(spec)) {
    return ec;
  }
  product p = make_product(spec, now());
  std::lock_guard lock(mu_);
  auto s = db_->prepare(sql_insert_product);
  if (!s) {
    return s.error();
  }
  s->bind(1, p.product_key)
      .bind(2, p.product_secret)
      .bind(3, p.name)
      .bind(4, p.dynamic_registration)
      .bind(5, p.created)
      .bind(6, to_string(p.node));
  if (auto ec = s->run()) {
    return ec;
  }
  return p;
}

result<product> sql_identity_store::get_product(std::string_view product_key) const {
  if (auto ec = check_product_key(product_key)) {
    return ec;
  }
  std::lock_guard lock(mu_);
  auto s = db_->prepare(sql_get_product);
  if (!s) {
    return s.error();
  }
  s->bind(1, product_key);
  auto row = s->step();
  if (!row) {
    return row.error();
  }
  if (*row) {
    return read_product(*s);
  }
  return make_error_code(errc::not_found);
}

result<std::vector<product>> sql_identity_store::list_products(page p) const {
  if (auto ec = check_page(p)) {
    return ec;
  }
  std::lock_guard lock(mu_);
  auto s = db_->prepare(sql_list_products);
  if (!s) {
    return s.error();
  }
  s->bind(1, to_sql(p.limit)).bind(2, to_sql(p.offset));
  std::vector<product> out;
  if (auto ec = for_each_row(*s, [&](const statement& row) {
        out.push_back(read_product(row));
        return std::error_code{};
      })) {
    return ec;
  }
  return out;
}

result<void> sql_identity_store::set_thing_model(std::string_view product_key,
                                                 std::optional<std::string_view> json) {
  if (auto ec = check_product_key(product_key)) {
    return ec;
  }
  if (json) {
    if (auto ec = check_thing_model(*json)) {
      return ec;
    }
  }
  std::lock_guard lock(mu_);
  return change_one(*db_, sql_set_thing_model,
                    [&](statement& s) { s.bind(1, product_key).bind(2, json); });
}

result<std::optional<std::string>>
sql_identity_store::get_thing_model(std::string_view product_key) const {
  if (auto ec = check_product_key(product_key)) {
    return ec;
  }
  std::lock_guard lock(mu_);
  auto s = db_->prepare(sql_get_thing_model);
  if (!s) {
    return s.error();
  }
  s->bind(1, product_key);
  auto row = s->step();
  if (!row) {
    return row.error();
  }
  if (*row) {
    return s->optional_text(0);
  }
  return make_error_code(errc::not_found);
}

// ---- topic classes --------------------------------------------------------------------------

result<void> sql_identity_store::add_topic_class(const topic_class& tc) {
  if (auto ec = check_topic_class(tc)) {
    return ec;
  }
  std::lock_guard lock(mu_);
  auto s = db_->prepare(sql_insert_topic_class);
  if (!s) {
    return s.error();
  }
  s->bind(1, tc.product_key).bind(2, tc.topic).bind(3, auth::to_string(tc.access)).bind(4, now());
  if (auto ec = s->run()) {
    return ec; // unknown product: the foreign key says not_found
  }
  return {};
}

result<std::vector<topic_class>>
sql_identity_store::list_topic_classes(std::string_view product_key) const {
  if (auto ec = check_product_key(product_key)) {
    return ec;
  }
  std::lock_guard lock(mu_);
  if (auto ec = require_product(product_key)) {
    return ec;
  }
  auto s = db_->prepare(sql_list_topic_classes);
  if (!s) {
    return s.error();
  }
  s->bind(1, product_key);
  std::vector<topic_class> out;
  if (auto ec = for_each_row(*s, [&](const statement& row) -> std::error_code {
        auto tc = read_topic_class(row);
        if (!tc) {
          return tc.error();
        }
        out.push_back(std::move(*tc));
        return {};
      })) {
    return ec;
  }
  return out;
}

// ---- devices --------------------------------------------------------------------------------

result<device> sql_identity_store::create_device(std::string_view product_key,
                                                 const new_device& spec) {
  auto created = create_devices(product_key, std::span(&spec, 1));
  if (!created) {
    return created.error();
  }
  return std::move(created->front());
}

result<std::vector<device>> sql_identity_store::create_devices(std::string_view product_key,
                                                               std::span<const new_device> specs) {
  if (auto ec = check_product_key(product_key)) {
    return ec;
  }
  if (auto ec = check_new_devices(specs)) {
    return ec;
  }
  // Secrets and names are generated before the lock: the transaction only writes.
  const timestamp created = now();
  std::vector<device> out;
  out.reserve(specs.size());
  for (const new_device& spec : specs) {
    out.push_back(make_device(product_key, spec, created));
  }

  std::lock_guard lock(mu_);
  sql::transaction tx(*db_);
  if (auto ec = tx.begin_error()) {
    return ec;
  }
  if (auto ec = require_product(product_key)) {
    return ec;
  }
  // A duplicate, also within the batch: already_exists, and all is rolled back.
  if (auto ec = db_->run_batch(sql_insert_device, out.size(), [&](statement& s, std::size_t i) {
        const device& d = out[i];
        s.bind(1, d.product_key)
            .bind(2, d.device_name)
            .bind(3, d.device_secret)
            .bind(4, d.enabled)
            .bind(5, d.created);
      })) {
    return ec;
  }
  if (auto ec = tx.commit()) {
    return ec;
  }
  return out;
}

result<device> sql_identity_store::get_device(std::string_view product_key,
                                              std::string_view device_name) const {
  if (auto ec = check_product_key(product_key)) {
    return ec;
  }
  if (auto ec = check_device_name(device_name)) {
    return ec;
  }
  std::lock_guard lock(mu_);
  auto s = db_->prepare(sql_get_device);
  if (!s) {
    return s.error();
  }
  s->bind(1, product_key).bind(2, device_name);
  auto row = s->step();
  if (!row) {
    return row.error();
  }
  if (*row) {
    return read_device(*s);
  }
  return make_error_code(errc::not_found);
}

result<std::vector<device>> sql_identity_store::list_devices(std::string_view product_key,
                                                             page p) const {
  if (auto ec = check_product_key(product_key)) {
    return ec;
  }
  if (auto ec = check_page(p)) {
    return ec;
  }
  std::lock_guard lock(mu_);
  // One snapshot for the existence check and the rows.
  sql::transaction tx(*db_, sql::transaction::kind::read);
  if (auto ec = tx.begin_error()) {
    return ec;
  }
  if (auto ec = require_product(product_key)) {
    return ec;
  }
  auto s = db_->prepare(sql_list_devices);
  if (!s) {
    return s.error();
  }
  s->bind(1, product_key).bind(2, to_sql(p.limit)).bind(3, to_sql(p.offset));
  std::vector<device> out;
  if (auto ec = for_each_row(*s, [&](const statement& row) {
        out.push_back(read_device(row));
        return std::error_code{};
      })) {
    return ec;
  }
  return out;
}

result<std::uint64_t> sql_identity_store::count_devices(std::string_view product_key) const {
  if (auto ec = check_product_key(product_key)) {
    return ec;
  }
  std::lock_guard lock(mu_);
  sql::transaction tx(*db_, sql::transaction::kind::read);
  if (auto ec = tx.begin_error()) {
    return ec;
  }
  if (auto ec = require_product(product_key)) {
    return ec;
  }
  auto s = db_->prepare(sql_count_devices);
  if (!s) {
    return s.error();
  }
  s->bind(1, product_key);
  auto row = s->step();
  if (!row) {
    return row.error();
  }
  if (!*row) {
    return make_error_code(errc::corrupt);
  }
  return static_cast<std::uint64_t>(s->int64(0));
}

template <typename Bind>
result<void> sql_identity_store::update_device(const char* sql, std::string_view product_key,
                                               std::string_view device_name, Bind&& bind_rest) {
  if (auto ec = check_product_key(product_key)) {
    return ec;
  }
  if (auto ec = check_device_name(device_name)) {
    return ec;
  }
  std::lock_guard lock(mu_);
  return change_one(*db_, sql, [&](statement& s) {
    s.bind(1, product_key).bind(2, device_name);
    bind_rest(s);
  });
}

result<void> sql_identity_store::set_device_enabled(std::string_view product_key,
                                                    std::string_view device_name, bool enabled) {
  return update_device(sql_set_enabled, product_key, device_name,
                       [&](statement& s) { s.bind(3, enabled); });
}

result<void> sql_identity_store::delete_device(std::string_view product_key,
                                               std::string_view device_name) {
  return update_device(sql_delete_device, product_key, device_name, [](statement&) {});
}

result<void> sql_identity_store::record_online(std::string_view product_key,
                                               std::string_view device_name, timestamp at,
                                               std::string_view ip) {
  return update_device(sql_record_online, product_key, device_name,
                       [&](statement& s) { s.bind(3, at).bind(4, ip.substr(0, max_ip_bytes)); });
}

result<void> sql_identity_store::record_offline(std::string_view product_key,
                                                std::string_view device_name, timestamp at) {
  return update_device(sql_record_offline, product_key, device_name,
                       [&](statement& s) { s.bind(3, at); });
}

result<std::size_t> sql_identity_store::record_status(std::span<const status_change> changes) {
  std::lock_guard lock(mu_);
  sql::transaction tx(*db_);
  if (auto ec = tx.begin_error()) {
    return ec;
  }
  auto on = db_->prepare(sql_record_online);
  if (!on) {
    return on.error();
  }
  auto off = db_->prepare(sql_record_offline);
  if (!off) {
    return off.error();
  }
  std::size_t applied = 0;
  for (const status_change& c : changes) {
    if (check_product_key(c.product_key) || check_device_name(c.device_name)) {
      continue;
    }
    statement& s = c.online ? *on : *off;
    s.bind(1, c.product_key).bind(2, c.device_name).bind(3, c.at);
    if (c.online) {
      s.bind(4, c.ip.substr(0, max_ip_bytes));
    }
    if (auto ec = s.run()) {
      return ec; // rolled back
    }
    applied += static_cast<std::size_t>(db_->changes());
    s.reset();
  }
  if (auto ec = tx.commit()) {
    return ec;
  }
  return applied;
}

result<void> sql_identity_store::set_device_token(std::string_view product_key,
                                                  std::string_view device_name,
                                                  std::optional<std::string_view> token) {
  if (token) {
    if (auto ec = check_secret(*token)) {
      return ec;
    }
  }
  return update_device(sql_set_token, product_key, device_name,
                       [&](statement& s) { s.bind(3, token); });
}

// ---- applications ---------------------------------------------------------------------------

result<std::vector<std::string>> sql_identity_store::app_products(std::string_view app_key) const {
  auto s = db_->prepare(sql_app_products);
  if (!s) {
    return s.error();
  }
  s->bind(1, app_key);
  std::vector<std::string> out;
  if (auto ec = for_each_row(*s, [&](const statement& row) {
        out.push_back(row.text(0));
        return std::error_code{};
      })) {
    return ec;
  }
  return out;
}

result<application> sql_identity_store::create_app(const new_application& spec) {
  if (auto ec = check_new_application(spec)) {
    return ec;
  }
  application a = make_application(spec, now());
  std::lock_guard lock(mu_);
  sql::transaction tx(*db_);
  if (auto ec = tx.begin_error()) {
    return ec;
  }
  {
    auto s = db_->prepare(sql_insert_app);
    if (!s) {
      return s.error();
    }
    s->bind(1, a.app_key).bind(2, a.app_secret).bind(3, a.name).bind(4, a.enabled);
    s->bind(5, a.created);
    if (auto ec = s->run()) {
      return ec;
    }
  }
  auto s = db_->prepare(sql_insert_app_product);
  if (!s) {
    return s.error();
  }
  for (const std::string& pk : a.products) {
    s->bind(1, a.app_key).bind(2, pk);
    if (auto ec = s->run()) {
      return ec; // an unknown product: not_found
    }
    s->reset();
  }
  if (auto ec = tx.commit()) {
    return ec;
  }
  return a;
}

result<application> sql_identity_store::get_app(std::string_view app_key) const {
  if (auto ec = check_app_key(app_key)) {
    return ec;
  }
  std::lock_guard lock(mu_);
  sql::transaction tx(*db_, sql::transaction::kind::read);
  if (auto ec = tx.begin_error()) {
    return ec;
  }
  auto s = db_->prepare(sql_get_app);
  if (!s) {
    return s.error();
  }
  s->bind(1, app_key);
  auto row = s->step();
  if (!row) {
    return row.error();
  }
  if (!*row) {
    return make_error_code(errc::not_found);
  }
  application a = read_app(*s);
  auto products = app_products(app_key);
  if (!products) {
    return products.error();
  }
  a.products = std::move(*products);
  return a;
}

result<std::vector<application>> sql_identity_store::list_apps(page p) const {
  if (auto ec = check_page(p)) {
    return ec;
  }
  std::lock_guard lock(mu_);
  sql::transaction tx(*db_, sql::transaction::kind::read);
  if (auto ec = tx.begin_error()) {
    return ec;
  }
  auto s = db_->prepare(sql_list_apps);
  if (!s) {
    return s.error();
  }
  s->bind(1, to_sql(p.limit)).bind(2, to_sql(p.offset));
  std::vector<application> out;
  if (auto ec = for_each_row(*s, [&](const statement& row) -> std::error_code {
        application a = read_app(row);
        auto products = app_products(a.app_key);
        if (!products) {
          return products.error();
        }
        a.products = std::move(*products);
        out.push_back(std::move(a));
        return {};
      })) {
    return ec;
  }
  return out;
}

result<void> sql_identity_store::set_app_enabled(std::string_view app_key, bool enabled) {
  if (auto ec = check_app_key(app_key)) {
    return ec;
  }
  std::lock_guard lock(mu_);
  return change_one(*db_, sql_set_app_enabled,
                    [&](statement& s) { s.bind(1, app_key).bind(2, enabled); });
}

// ---- everything -----------------------------------------------------------------------------

std::error_code sql_identity_store::load_all(identity_sink& sink) const {
  std::lock_guard lock(mu_);
  sql::transaction tx(*db_, sql::transaction::kind::read);
  if (auto ec = tx.begin_error()) {
    return ec;
  }
  auto scan = [&](const char* sql, auto&& on_row) -> std::error_code {
    auto s = db_->prepare(sql);
    if (!s) {
      return s.error();
    }
    return for_each_row(*s, on_row);
  };
  if (auto ec = scan(sql_all_products, [&](const statement& row) {
        sink.on_product(read_product(row), row.optional_text(6));
        return std::error_code{};
      })) {
    return ec;
  }
  if (auto ec = scan(sql_all_topic_classes, [&](const statement& row) -> std::error_code {
        auto tc = read_topic_class(row);
        if (!tc) {
          return tc.error();
        }
        sink.on_topic_class(*tc);
        return {};
      })) {
    return ec;
  }
  if (auto ec = scan(sql_all_devices, [&](const statement& row) {
        sink.on_device(read_device(row));
        return std::error_code{};
      })) {
    return ec;
  }
  return scan(sql_all_apps, [&](const statement& row) -> std::error_code {
    application a = read_app(row);
    auto products = app_products(a.app_key);
    if (!products) {
      return products.error();
    }
    a.products = std::move(*products);
    sink.on_application(a);
    return {};
  });
}

} // namespace thingport::store
