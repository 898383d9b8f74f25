// The thing model (TSL, docs/protocol.md "Thing models"): the platform's export JSON parsed and
// checked once, when an admin sets it, into an immutable model that the property, event and service
// checks read. A thing_model is never changed after parse_tsl() made it; share it freely between
// threads (std::shared_ptr<const thing_model>).
//
// What parse_tsl() refuses, each with the JSON path of the first error
// ("properties[2].dataType.specs.max") and a message:
//   - not JSON, deeper than 32 levels, over 1 MiB; a top level that is not an object;
//     properties / events / services that are not arrays, or entries that are not objects;
//   - identifiers that are not 1..50 of [A-Za-z0-9_], reserved words (reserved_identifiers)
//     as identifiers of properties, events, services and struct members, and duplicates
//     (one identifier per product across properties, events and services; one per parameter
//     list; one per struct);
//   - unknown data types; min / max / step / length / size that are not numbers (strings or
//     JSON numbers); min above max; int bounds outside int32; text length outside 1..10240;
//     array size outside 1..512; array items other than int, float, double, text, struct;
//     enums without keys or with keys that are not int32; a struct inside a struct (also as the
//     item of an array member);
//   - accessMode other than r / rw, event type other than info / alert / error, callType
//     other than sync / async, a method that does not match the identifier.
// The entries the platform generates itself (event "post" with method
// thing.event.property.post, services "set" / "get" with thing.service.property.set / get) are
// accepted as they are and not listed among events and services.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace thingport::thing {

enum class data_type : std::uint8_t {
  int32,       // "int"
  float32,     // "float"
  float64,     // "double"
  text,        // "text"
  date,        // "date": UTC milliseconds as a string
  boolean,     // "bool": 0 or 1
  enumeration, // "enum": one of the integer keys
  structure,   // "struct": an object of members
  array,       // "array": up to `size` items of one type
};

// The TSL spelling: "int", "float", ...
std::string_view to_string(data_type t) noexcept;

inline constexpr std::size_t max_identifier_length = 50;
inline constexpr std::size_t max_text_length = 10240;
inline constexpr std::size_t max_array_size = 512;

// Words the platform reserves (its "add a TSL feature" page): they name the parts of Alink
// messages ({"value","time"}, thing.event.property.post, thing.service.property.set / get).
inline constexpr std::string_view reserved_identifiers[] = {"set",   "get",  "post", "property",
                                                            "event", "time", "value"};

// 1..50 characters of [A-Za-z0-9_].
bool valid_identifier(std::string_view id) noexcept;
bool reserved_identifier(std::string_view id) noexcept;

struct param;

// A data type with its limits. Only the fields of `type` mean anything.
struct data_spec {
  data_type type = data_type::int32;
  std::int64_t int_min = -2147483648;    // int32
  std::int64_t int_max = 2147483647;     // int32
  double min = 0;                        // float32 / float64 (set by the parser)
  double max = 0;                        // float32 / float64 (set by the parser)
  std::size_t length = max_text_length;  // text: bytes
  std::vector<std::int64_t> enum_keys{}; // enumeration: sorted
  std::vector<param> members;            // structure (no initializer: param is incomplete)
  std::size_t size = max_array_size;     // array: most items
  std::vector<data_spec> item;           // array: exactly one, the item type
  std::string unit{};                    // informative
};

// A struct member, or an input / output parameter of an event or service.
struct param {
  std::string identifier{};
  std::string name{};
  data_spec spec{};
};

enum class access_mode : std::uint8_t { read_only, read_write };
enum class event_type : std::uint8_t { info, alert, error };
enum class call_type : std::uint8_t { async, sync };

std::string_view to_string(event_type t) noexcept; // "info", "alert", "error"

struct property {
  std::string identifier{};
  std::string name{};
  access_mode access = access_mode::read_write;
  bool required = false;
  data_spec spec{};
};

struct event {
  std::string identifier{};
  std::string name{};
  event_type type = event_type::info;
  std::vector<param> output{};
};

struct service {
  std::string identifier{};
  std::string name{};
  call_type call = call_type::async;
  std::vector<param> input{};
  std::vector<param> output{};
};

class thing_model {
public:
  const std::vector<property>& properties() const noexcept { return properties_; }
  const std::vector<event>& events() const noexcept { return events_; }
  const std::vector<service>& services() const noexcept { return services_; }

  // nullptr when not defined.
  const property* find_property(std::string_view id) const noexcept;
  const event* find_event(std::string_view id) const noexcept;
  const service* find_service(std::string_view id) const noexcept;

  // The JSON exactly as given to parse_tsl(), for GET and thing.dsltemplate.get.
  const std::string& json() const noexcept { return json_; }
  // profile.productKey of the export; empty when absent.
  const std::string& product_key() const noexcept { return product_key_; }

private:
  friend class tsl_parser;

  std::vector<property> properties_;
  std::vector<event> events_;
  std::vector<service> services_;
  std::map<std::string, std::size_t, std::less<>> property_index_;
  std::map<std::string, std::size_t, std::less<>> event_index_;
  std::map<std::string, std::size_t, std::less<>> service_index_;
  std::string json_;
  std::string product_key_;
};

struct tsl_limits {
  std::size_t max_bytes = 1024 * 1024; // as store::max_thing_model_bytes
  std::size_t max_depth = 32;
  std::size_t max_features = 1000; // properties, events and services each
  std::size_t max_params = 200;    // per parameter list and per struct
  std::size_t max_enum_keys = 1000;
};

struct tsl_error {
  std::string path{};    // "properties[2].dataType.specs.max"; "" for the whole document
  std::string message{}; // "min is greater than max"
};

struct tsl_result {
  std::shared_ptr<const thing_model> model{}; // set on success
  tsl_error error{};                          // set on failure

  explicit operator bool() const noexcept { return model != nullptr; }
};

// Parses and checks a thing model; never throws on bad input (std::bad_alloc aside).
tsl_result parse_tsl(std::string_view json, const tsl_limits& limits = {});

} // namespace thingport::thing
