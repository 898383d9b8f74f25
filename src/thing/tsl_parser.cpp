// parse_tsl(): the thing model's export JSON walked once into a thing_model, stopping at the
// first error with its JSON path (tsl.hpp says what is refused).
#include <boost/json/value.hpp>

#include <algorithm>
#include <limits>
#include <optional>
#include <set>
#include <utility>

#include "thing/json.hpp"
#include "thing/tsl.hpp"

namespace thingport::thing {

namespace json = boost::json;

namespace {

std::optional<data_type> parse_type(std::string_view s) noexcept {
  static constexpr data_type all[] = {
      data_type::int32,       data_type::float32,   data_type::float64,
      data_type::text,        data_type::date,      data_type::boolean,
      data_type::enumeration, data_type::structure, data_type::array};
  for (const data_type t : all) {
    if (to_string(t) == s) {
      return t;
    }
  }
  return std::nullopt;
}

std::string_view view(json::string_view s) noexcept {
  return {s.data(), s.size()};
}

// Where the parser is; appends and removes path segments as it descends.
class path_guard {
public:
  path_guard(std::string& path, std::string_view key) : path_(path), size_(path.size()) {
    if (!path_.empty()) {
      path_ += '.';
    }
    path_ += key;
  }
  path_guard(std::string& path, std::size_t index) : path_(path), size_(path.size()) {
    path_ += '[';
    path_ += std::to_string(index);
    path_ += ']';
  }
  ~path_guard() { path_.resize(size_); }
  path_guard(const path_guard&) = delete;
  path_guard& operator=(const path_guard&) = delete;

private:
  std::string& path_;
  std::size_t size_;
};

// Where a data type stands, which decides the types it may be.
struct nesting {
  bool in_struct = false;  // inside a struct (also as an array's item): no struct
  bool array_item = false; // the item of an array: int, float, double, text or struct
};
} // namespace

// Walks the document once; the first error stops it (path_ and message_ say where and why).
class tsl_parser {
public:
  explicit tsl_parser(const tsl_limits& limits) : limits_(limits) {}

  tsl_result run(std::string_view text) {
    auto model = std::make_shared<thing_model>();
    if (text.size() > limits_.max_bytes) {
      return failure("the thing model is larger than " + std::to_string(limits_.max_bytes) +
                     " bytes");
    }
    auto doc = parse_json(text, {.max_bytes = limits_.max_bytes, .max_depth = limits_.max_depth});
    if (!doc) {
      return failure("not JSON, or nested deeper than " + std::to_string(limits_.max_depth) +
                     " levels");
    }
    const json::object* top = doc->if_object();
    if (top == nullptr) {
      return failure("the thing model must be a JSON object");
    }
    if (!profile(*top, *model) || !properties(*top, *model) || !events(*top, *model) ||
        !services(*top, *model)) {
      return failure(std::move(message_));
    }
    model->json_.assign(text);
    return {.model = std::move(model), .error = {}};
  }

private:
  tsl_result failure(std::string message) {
    return {.model = nullptr, .error = {.path = error_path_, .message = std::move(message)}};
  }

  // Records the error where the walk stands; the path guards unwinding after it do not touch
  // the copy.
  bool fail(std::string message) {
    message_ = std::move(message);
    error_path_ = path_;
    return false;
  }

  bool fail_at(std::string_view key, std::string message) {
    if (!path_.empty()) {
      path_ += '.';
    }
    path_ += key;
    return fail(std::move(message));
  }

  // The array under `key`, or nullptr when absent; false when present but not an array.
  bool optional_array(const json::object& obj, std::string_view key, const json::array*& out) {
    out = nullptr;
    const json::value* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) {
      return true;
    }
    out = v->if_array();
    return out != nullptr || fail_at(key, std::string(key) + " must be an array");
  }

  bool string_field(const json::object& obj, std::string_view key, bool required,
                    std::string& out) {
    const json::value* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) {
      return !required || fail_at(key, std::string(key) + " is missing");
    }
    const json::string* s = v->if_string();
    if (s == nullptr) {
      return fail_at(key, std::string(key) + " must be a string");
    }
    out.assign(s->data(), s->size());
    return true;
  }

  bool identifier(const json::object& obj, bool check_reserved, std::set<std::string>& seen,
                  std::string& out) {
    if (!string_field(obj, "identifier", true, out)) {
      return false;
    }
    if (!valid_identifier(out)) {
      return fail_at("identifier", "identifier \"" + std::string(clip_utf8(out, 64)) +
                                       "\" must be 1 to 50 characters of A-Z a-z 0-9 _");
    }
    if (check_reserved && reserved_identifier(out)) {
      return fail_at("identifier", "identifier \"" + out + "\" is reserved");
    }
    if (!seen.insert(out).second) {
      return fail_at("identifier", "duplicate identifier \"" + out + "\"");
    }
    return true;
  }

  // An optional string field that names one of `options` (the first is the default); the
  // error names them all.
  template <typename E, std::size_t N>
  bool choice(const json::object& obj, std::string_view key,
              const std::pair<std::string_view, E> (&options)[N], E& out) {
    std::string value;
    if (!string_field(obj, key, false, value)) {
      return false;
    }
    if (value.empty()) {
      out = options[0].second;
      return true;
    }
    std::string names;
    for (const auto& [name, e] : options) {
      if (name == value) {
        out = e;
        return true;
      }
      names += (names.empty() ? "\"" : ", \"") + std::string(name) + "\"";
    }
    return fail_at(key, std::string(key) + " must be one of " + names);
  }

  // Adds a checked feature and its index entry.
  template <typename T>
  static void add(std::vector<T>& list, std::map<std::string, std::size_t, std::less<>>& index,
                  T&& item) {
    index.emplace(item.identifier, list.size());
    list.push_back(std::forward<T>(item));
  }

  bool profile(const json::object& top, thing_model& model) {
    const json::value* p = top.if_contains("profile");
    if (p == nullptr || p->is_null()) {
      return true;
    }
    path_guard g(path_, "profile");
    const json::object* obj = p->if_object();
    if (obj == nullptr) {
      return fail("profile must be an object");
    }
    return string_field(*obj, "productKey", false, model.product_key_);
  }

  // The objects of a top-level list, each handed to `one` with the path set.
  template <typename One>
  bool each_entry(const json::object& top, std::string_view key, One&& one) {
    const json::array* list = nullptr;
    if (!optional_array(top, key, list)) {
      return false;
    }
    if (list == nullptr) {
      return true;
    }
    path_guard g(path_, key);
    if (list->size() > limits_.max_features) {
      return fail(std::string(key) + " has more than " + std::to_string(limits_.max_features) +
                  " entries");
    }
    for (std::size_t i = 0; i < list->size(); ++i) {
      path_guard gi(path_, i);
      const json::object* obj = (*list)[i].if_object();
      if (obj == nullptr) {
        return fail("an entry of " + std::string(key) + " must be an object");
      }
      if (!one(*obj)) {
        return false;
      }
    }
    return true;
  }

  bool properties(const json::object& top, thing_model& model) {
    return each_entry(top, "properties", [&](const json::object& obj) {
      property p;
      if (!identifier(obj, true, features_, p.identifier) ||
          !string_field(obj, "name", false, p.name)) {
        return false;
      }
      static constexpr std::pair<std::string_view, access_mode> modes[] = {
          {"rw", access_mode::read_write}, {"r", access_mode::read_only}};
      if (!choice(obj, "accessMode", modes, p.access)) {
        return false;
      }
      if (const json::value* r = obj.if_contains("required"); r != nullptr && r->is_bool()) {
        p.required = r->get_bool();
      }
      if (!data_type_of(obj, {}, p.spec)) {
        return false;
      }
      add(model.properties_, model.property_index_, std::move(p));
      return true;
    });
  }

  // The platform's own entries: event "post", services "set" and "get".
  static bool generated(const json::object& obj, std::string_view prefix) {
    const json::value* id = obj.if_contains("identifier");
    const json::value* method = obj.if_contains("method");
    if (id == nullptr || !id->is_string() || method == nullptr || !method->is_string()) {
      return false;
    }
    const std::string_view i = view(id->get_string());
    const std::string_view m = view(method->get_string());
    return m.size() == prefix.size() + i.size() && m.starts_with(prefix) && m.ends_with(i) &&
           (prefix == "thing.event.property." ? i == "post" : (i == "set" || i == "get"));
  }

  // `method`, when present, must be prefix + identifier + suffix.
  bool method_matches(const json::object& obj, std::string_view prefix, std::string_view id,
                      std::string_view suffix) {
    std::string method;
    if (!string_field(obj, "method", false, method)) {
      return false;
    }
    if (!method.empty() && method != std::string(prefix).append(id).append(suffix)) {
      return fail_at("method", "method must be " + std::string(prefix).append(id).append(suffix));
    }
    return true;
  }

  bool events(const json::object& top, thing_model& model) {
    return each_entry(top, "events", [&](const json::object& obj) {
      if (generated(obj, "thing.event.property.")) {
        return true;
      }
      event e;
      if (!identifier(obj, true, features_, e.identifier) ||
          !string_field(obj, "name", false, e.name) ||
          !method_matches(obj, "thing.event.", e.identifier, ".post")) {
        return false;
      }
      static constexpr std::pair<std::string_view, event_type> types[] = {
          {"info", event_type::info}, {"alert", event_type::alert}, {"error", event_type::error}};
      if (!choice(obj, "type", types, e.type) || !params(obj, "outputData", e.output)) {
        return false;
      }
      add(model.events_, model.event_index_, std::move(e));
      return true;
    });
  }

  bool services(const json::object& top, thing_model& model) {
    return each_entry(top, "services", [&](const json::object& obj) {
      if (generated(obj, "thing.service.property.")) {
        return true;
      }
      service s;
      if (!identifier(obj, true, features_, s.identifier) ||
          !string_field(obj, "name", false, s.name) ||
          !method_matches(obj, "thing.service.", s.identifier, "")) {
        return false;
      }
      static constexpr std::pair<std::string_view, call_type> calls[] = {
          {"async", call_type::async}, {"sync", call_type::sync}};
      if (!choice(obj, "callType", calls, s.call) || !params(obj, "inputData", s.input) ||
          !params(obj, "outputData", s.output)) {
        return false;
      }
      add(model.services_, model.service_index_, std::move(s));
      return true;
    });
  }

  // A parameter list (outputData, inputData) of an event or service.
  bool params(const json::object& obj, std::string_view key, std::vector<param>& out) {
    const json::array* list = nullptr;
    if (!optional_array(obj, key, list)) {
      return false;
    }
    if (list == nullptr) {
      return true;
    }
    path_guard g(path_, key);
    return param_list(*list, {}, false, out);
  }

  // Objects with identifier, name, dataType: parameters (reserved words allowed) or struct
  // members (reserved words refused: a member "value" would read as {"value","time"}).
  bool param_list(const json::array& list, nesting where, bool check_reserved,
                  std::vector<param>& out) {
    if (list.size() > limits_.max_params) {
      return fail("more than " + std::to_string(limits_.max_params) + " entries");
    }
    std::set<std::string> seen;
    for (std::size_t i = 0; i < list.size(); ++i) {
      path_guard g(path_, i);
      const json::object* obj = list[i].if_object();
      if (obj == nullptr) {
        return fail("a parameter must be an object");
      }
      param p;
      if (!identifier(*obj, check_reserved, seen, p.identifier) ||
          !string_field(*obj, "name", false, p.name) || !data_type_of(*obj, where, p.spec)) {
        return false;
      }
      out.push_back(std::move(p));
    }
    return true;
  }

  bool data_type_of(const json::object& obj, nesting where, data_spec& spec) {
    const json::value* dt = obj.if_contains("dataType");
    if (dt == nullptr) {
      return fail_at("dataType", "dataType is missing");
    }
    path_guard g(path_, "dataType");
    const json::object* dto = dt->if_object();
    if (dto == nullptr) {
      return fail("dataType must be an object");
    }
    return spec_of(*dto, where, spec);
  }

  // {"type": ..., "specs": ...}
  bool spec_of(const json::object& dt, nesting where, data_spec& spec) {
    std::string type_name;
    if (!string_field(dt, "type", true, type_name)) {
      return false;
    }
    const auto type = parse_type(type_name);
    if (!type) {
      return fail_at("type", "unknown data type \"" + std::string(clip_utf8(type_name, 32)) + "\"");
    }
    spec.type = *type;
    if (spec.type == data_type::structure && where.in_struct) {
      return fail_at("type", "a struct cannot contain a struct");
    }
    if (where.array_item && spec.type != data_type::int32 && spec.type != data_type::float32 &&
        spec.type != data_type::float64 && spec.type != data_type::text &&
        spec.type != data_type::structure) {
      return fail_at("type", "array items must be int, float, double, text or struct");
    }
    const json::value* specs = dt.if_contains("specs");
    path_guard g(path_, "specs");
    switch (spec.type) {
    case data_type::int32:
      return int_specs(specs, spec);
    case data_type::float32:
    case data_type::float64:
      return float_specs(specs, spec);
    case data_type::text:
      return text_specs(specs, spec);
    case data_type::date:
    case data_type::boolean:
      return true;
    case data_type::enumeration:
      return enum_specs(specs, spec);
    case data_type::structure:
      return struct_specs(specs, spec);
    case data_type::array:
      return array_specs(specs, where, spec);
    }
    return fail("unknown data type");
  }

  // An optional number field of specs (absent, null or "" is absent), read by `read`, which
  // says whether the value is acceptable; `what` names what it must be.
  template <typename Read>
  bool number(const json::value* specs, std::string_view key, std::string_view what, Read&& read,
              bool& present) {
    present = false;
    const json::value* v = specs == nullptr ? nullptr : member(*specs, key);
    if (v == nullptr || v->is_null() || (v->is_string() && v->get_string().empty())) {
      return true;
    }
    present = true;
    return read(*v) || fail_at(key, std::string(key) + " must be " + std::string(what));
  }

  bool specs_object(const json::value* specs, bool required) {
    if (specs == nullptr || specs->is_null()) {
      return !required || fail("specs is missing");
    }
    return specs->is_object() || fail("specs must be an object");
  }

  bool int_specs(const json::value* specs, data_spec& spec) {
    if (!specs_object(specs, false)) {
      return false;
    }
    bool present = false;
    auto in_int32 = [](std::optional<std::int64_t> v) {
      return v && *v >= std::numeric_limits<std::int32_t>::min() &&
             *v <= std::numeric_limits<std::int32_t>::max();
    };
    if (!number(
            specs, "min", "an int32 integer",
            [&](const json::value& v) {
              const auto n = int_of(v);
              return in_int32(n) && (spec.int_min = *n, true);
            },
            present) ||
        !number(
            specs, "max", "an int32 integer",
            [&](const json::value& v) {
              const auto n = int_of(v);
              return in_int32(n) && (spec.int_max = *n, true);
            },
            present) ||
        !number(
            specs, "step", "a number",
            [](const json::value& v) { return double_of(v).has_value(); }, present)) {
      return false;
    }
    if (spec.int_min > spec.int_max) {
      return fail_at("min", "min is greater than max");
    }
    unit(specs, spec);
    return true;
  }

  bool float_specs(const json::value* specs, data_spec& spec) {
    if (!specs_object(specs, false)) {
      return false;
    }
    const double limit = spec.type == data_type::float32 ? std::numeric_limits<float>::max()
                                                         : std::numeric_limits<double>::max();
    spec.min = -limit;
    spec.max = limit;
    bool present = false;
    if (!number(
            specs, "min", "a number",
            [&](const json::value& v) {
              const auto n = double_of(v);
              return n && (spec.min = *n, true);
            },
            present) ||
        !number(
            specs, "max", "a number",
            [&](const json::value& v) {
              const auto n = double_of(v);
              return n && (spec.max = *n, true);
            },
            present) ||
        !number(
            specs, "step", "a number",
            [](const json::value& v) { return double_of(v).has_value(); }, present)) {
      return false;
    }
    if (spec.min > spec.max) {
      return fail_at("min", "min is greater than max");
    }
    unit(specs, spec);
    return true;
  }

  static void unit(const json::value* specs, data_spec& spec) {
    const json::value* u = specs == nullptr ? nullptr : member(*specs, "unit");
    if (u != nullptr && u->is_string()) {
      spec.unit.assign(u->get_string().data(), u->get_string().size());
    }
  }

  // A count field (length, size) within lo..hi; `out` keeps its default when absent.
  bool count(const json::value* specs, std::string_view key, std::size_t lo, std::size_t hi,
             std::size_t& out) {
    std::optional<std::int64_t> n;
    bool present = false;
    if (!number(
            specs, key, "an integer",
            [&](const json::value& v) {
              n = int_of(v);
              return n.has_value();
            },
            present)) {
      return false;
    }
    if (!present) {
      return true;
    }
    if (*n < static_cast<std::int64_t>(lo) || *n > static_cast<std::int64_t>(hi)) {
      return fail_at(key, std::string(key) + " must be " + std::to_string(lo) + " to " +
                              std::to_string(hi));
    }
    out = static_cast<std::size_t>(*n);
    return true;
  }

  bool text_specs(const json::value* specs, data_spec& spec) {
    return specs_object(specs, false) && count(specs, "length", 1, max_text_length, spec.length);
  }

  bool enum_specs(const json::value* specs, data_spec& spec) {
    if (!specs_object(specs, true)) {
      return false;
    }
    const json::object& obj = specs->get_object();
    if (obj.empty()) {
      return fail("an enum needs at least one key");
    }
    if (obj.size() > limits_.max_enum_keys) {
      return fail("an enum has at most " + std::to_string(limits_.max_enum_keys) + " keys");
    }
    for (const auto& kv : obj) {
      const auto key = parse_int(std::string_view(kv.key().data(), kv.key().size()));
      if (!key || *key < std::numeric_limits<std::int32_t>::min() ||
          *key > std::numeric_limits<std::int32_t>::max()) {
        return fail_at(
            std::string_view(kv.key().data(), std::min<std::size_t>(kv.key().size(), 32)),
            "enum keys must be int32 integers");
      }
      spec.enum_keys.push_back(*key);
    }
    std::sort(spec.enum_keys.begin(), spec.enum_keys.end());
    // "1" and "01" are one key.
    if (std::adjacent_find(spec.enum_keys.begin(), spec.enum_keys.end()) != spec.enum_keys.end()) {
      return fail("duplicate enum key");
    }
    return true;
  }

  bool struct_specs(const json::value* specs, data_spec& spec) {
    const json::array* members = specs == nullptr ? nullptr : specs->if_array();
    if (members == nullptr) {
      return fail("the specs of a struct must be an array of members");
    }
    if (members->empty()) {
      return fail("a struct needs at least one member");
    }
    return param_list(*members, {.in_struct = true, .array_item = false}, true, spec.members);
  }

  bool array_specs(const json::value* specs, nesting where, data_spec& spec) {
    if (!specs_object(specs, true) || !count(specs, "size", 1, max_array_size, spec.size)) {
      return false;
    }
    const json::value* item = member(*specs, "item");
    if (item == nullptr || !item->is_object()) {
      return fail_at("item", "the specs of an array need an item object");
    }
    path_guard g(path_, "item");
    spec.item.emplace_back();
    // An array member of a struct must not hold structs either: in_struct carries over.
    return spec_of(item->get_object(), {.in_struct = where.in_struct, .array_item = true},
                   spec.item.front());
  }

  const tsl_limits& limits_;
  std::string path_;
  std::string message_;
  std::string error_path_;
  std::set<std::string> features_; // identifiers of properties, events and services
};

tsl_result parse_tsl(std::string_view json, const tsl_limits& limits) {
  return tsl_parser(limits).run(json);
}

} // namespace thingport::thing