// Thing data as the platform keeps it per device (docs/design.md, docs/store-format.md "thing
// data"): the latest value and a bounded history of every property, events, the device shadow,
// device info tags (thing.deviceinfo.update), desired property values with their versions, and
// the downlink requests (property set, service call, RRPC) with their outcome. thing_store is
// the plug-in point; the SQLite backend is thing_sqlite.hpp. Every backend passes the same
// contract suite (tests/store/thing_store_contract*.cpp).
//
// Values are JSON text, checked and normalised by the thing layer before they get here; the
// store keeps them as given and never parses them.
//
// Errors: nothing here throws on bad input (std::bad_alloc aside). Every operation returns a
// result carrying a store::errc (not_found, storage_failure, corrupt, bad_product_key,
// bad_device_name, bad_page) or a thing_errc (below); a refused write writes nothing.
// Writing data for a device the identity store does not have is not_found.
//
// Threads: every member may be called from any thread, concurrently; a backend serialises as
// it needs. Calls may block on disk: they belong on a store thread (the broker's writer that
// batches the thing layer's actions, the HTTP API), never on a broker worker.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

#include "store/identity_store.hpp"

namespace thingport::store {

enum class thing_errc {
  ok = 0,
  bad_identifier = 1,  // property / event / service identifier not 1..50 of [A-Za-z0-9_]
  bad_key,             // device info key not 1..100 of [A-Za-z0-9_.] starting with a letter
  bad_value,           // value empty, over max_thing_value_bytes, or with NUL
  bad_id,              // downlink id not 1..64 of [A-Za-z0-9_-]
  bad_range,           // from after to
  too_many,            // more than max_thing_batch entries in one call
  version_conflict,    // the shadow was changed since it was read
  too_many_properties, // a device would have more than retention::max_properties identifiers
};

const std::error_category& thing_error_category() noexcept;

inline std::error_code make_error_code(thing_errc e) noexcept {
  return {static_cast<int>(e), thing_error_category()};
}

std::string_view to_string(thing_errc e) noexcept;

inline constexpr std::size_t max_thing_value_bytes = 256 * 1024; // the MQTT payload limit
inline constexpr std::size_t max_thing_batch = 10'000;           // entries in one write call

// How much history is kept. Zero means no limit of that kind.
struct retention {
  // Values kept per property (the most recently received ones) and events per identifier.
  std::size_t max_values = 10'000;
  std::size_t max_events = 10'000;
  // Distinct property identifiers kept per device (a product without a thing model takes any
  // identifier a device sends); a post that would pass it is refused whole. 0: no limit.
  std::size_t max_properties = 1000;
  // Values and events whose time is older than now - max_age go at the next write of that
  // property / event, and at prune().
  std::chrono::milliseconds max_age{std::chrono::hours(24 * 30)};
  // Downlink records kept per device (the newest), and their age.
  std::size_t max_downlinks = 1000;
  std::chrono::milliseconds max_downlink_age{std::chrono::hours(24 * 7)};
};

struct device_key {
  std::string product_key{};
  std::string device_name{};
  friend bool operator==(const device_key&, const device_key&) = default;
};

struct property_value {
  std::string identifier{};
  std::string value{}; // JSON text
  timestamp time{};    // the device's time, or when the platform received it
  friend bool operator==(const property_value&, const property_value&) = default;
};

struct event_record {
  std::string identifier{};
  std::string type{};   // "info" / "alert" / "error"; may be empty (no thing model)
  std::string output{}; // JSON object text
  timestamp time{};
  friend bool operator==(const event_record&, const event_record&) = default;
};

// Inclusive on both ends; newest first unless ascending.
struct time_query {
  timestamp from{};
  timestamp to{timestamp::max()};
  std::size_t limit = 100; // 1..max_page_limit
  bool ascending = false;
};

struct shadow_document {
  std::string document{}; // thing::shadow::to_json()
  std::int64_t version = 0;
  timestamp updated{};
  friend bool operator==(const shadow_document&, const shadow_document&) = default;
};

// The firmware of one module as its device last reported it (/ota/device/inform): module 1..64
// of [A-Za-z0-9_-] ("default" when the device names none), version 1..64 bytes without NUL.
struct firmware_version {
  std::string module{};
  std::string version{};
  timestamp reported{};
  friend bool operator==(const firmware_version&, const firmware_version&) = default;
};

// How many devices of a product report `version` for `module`.
struct version_count {
  std::string module{};
  std::string version{};
  std::uint64_t devices = 0;
  friend bool operator==(const version_count&, const version_count&) = default;
};

struct device_attribute {
  std::string key{};
  std::string value{};
  timestamp updated{};
  friend bool operator==(const device_attribute&, const device_attribute&) = default;
};

struct desired_property {
  std::string identifier{};
  std::string value{}; // JSON text
  std::int64_t version = 0;
  timestamp updated{};
  friend bool operator==(const desired_property&, const desired_property&) = default;
};

struct desired_removal {
  std::string identifier{};
  // Removed only when the stored version is not newer than this (the device saw it);
  // nullopt removes whatever is there.
  std::optional<std::int64_t> version{};
};

enum class downlink_type : std::uint8_t { property_set, service, rrpc };
// docs/protocol.md "The cloud side": SUCCESS (the device answered, whatever its code), TIMEOUT,
// OFFLINE.
enum class downlink_outcome : std::uint8_t { pending, success, timeout, offline };

std::string_view to_string(downlink_type t) noexcept;    // "property_set", "service", "rrpc"
std::string_view to_string(downlink_outcome o) noexcept; // "PENDING", "SUCCESS", ...

struct downlink_record {
  std::string id{}; // the request id / RRPC msgId; unique per device
  downlink_type type = downlink_type::service;
  std::string identifier{}; // service identifier; empty for property sets and raw RRPC
  std::string request{};    // the payload sent
  timestamp sent{};
  downlink_outcome outcome = downlink_outcome::pending;
  std::optional<int> reply_code{};
  std::optional<std::string> reply{}; // the device's reply data / RRPC payload
  std::optional<timestamp> completed{};
  friend bool operator==(const downlink_record&, const downlink_record&) = default;
};

// Telemetry writes that may be grouped into one transaction across devices (write()).
struct property_write {
  device_key device{};
  std::vector<property_value> values{};
};
struct event_write {
  device_key device{};
  std::vector<event_record> events{};
};
using thing_write = std::variant<property_write, event_write>;

class thing_store {
public:
  thing_store() = default;
  thing_store(const thing_store&) = delete;
  thing_store& operator=(const thing_store&) = delete;
  virtual ~thing_store() = default;

  // ---- properties --------------------------------------------------------------------------
  // One transaction: every value goes into the history; the latest value of an identifier is
  // replaced only by a value at least as new (a history post of old values does not move it
  // back). Retention is applied to the identifiers written. `now` is the age reference.
  virtual result<void> append_properties(std::string_view product_key, std::string_view device_name,
                                         std::span<const property_value> values, timestamp now) = 0;
  // The latest value of each property, ordered by identifier. Empty for a device without data.
  virtual result<std::vector<property_value>>
  latest_properties(std::string_view product_key, std::string_view device_name) const = 0;
  virtual result<std::vector<property_value>> property_history(std::string_view product_key,
                                                               std::string_view device_name,
                                                               std::string_view identifier,
                                                               const time_query& q) const = 0;

  // ---- events ------------------------------------------------------------------------------
  virtual result<void> append_events(std::string_view product_key, std::string_view device_name,
                                     std::span<const event_record> events, timestamp now) = 0;
  // Events of one identifier, or of all when `identifier` is empty.
  virtual result<std::vector<event_record>> events(std::string_view product_key,
                                                   std::string_view device_name,
                                                   std::string_view identifier,
                                                   const time_query& q) const = 0;

  // Group commit: many devices' telemetry in one transaction; each write succeeds or fails on
  // its own (a failed one leaves nothing behind). The outer error is for the transaction
  // itself (storage_failure, too_many); otherwise one error_code per write, in order.
  virtual result<std::vector<std::error_code>> write(std::span<const thing_write> writes,
                                                     timestamp now) = 0;

  // ---- shadow ------------------------------------------------------------------------------
  // nullopt when the device has no shadow (version 0).
  virtual result<std::optional<shadow_document>> get_shadow(std::string_view product_key,
                                                            std::string_view device_name) const = 0;
  // Stores `doc` if the stored version is `expected_version` (0: none stored); else
  // version_conflict and nothing changes.
  virtual result<void> put_shadow(std::string_view product_key, std::string_view device_name,
                                  const shadow_document& doc, std::int64_t expected_version) = 0;

  // ---- device info tags --------------------------------------------------------------------
  // Sets (replacing) the given keys; one transaction.
  virtual result<void> set_attributes(std::string_view product_key, std::string_view device_name,
                                      std::span<const device_attribute> attributes) = 0;
  // Absent keys are ignored.
  virtual result<void> delete_attributes(std::string_view product_key, std::string_view device_name,
                                         std::span<const std::string> keys) = 0;
  // Ordered by key.
  virtual result<std::vector<device_attribute>> attributes(std::string_view product_key,
                                                           std::string_view device_name) const = 0;

  // ---- desired properties ------------------------------------------------------------------
  // Sets a desired value; its version is the previous one + 1 (1 for the first, also after a
  // removal: versions never go back). Returns the new version.
  virtual result<std::int64_t> set_desired(std::string_view product_key,
                                           std::string_view device_name,
                                           std::string_view identifier, std::string_view value,
                                           timestamp now) = 0;
  // The values of these identifiers (all when empty) that are set, ordered by identifier.
  virtual result<std::vector<desired_property>>
  get_desired(std::string_view product_key, std::string_view device_name,
              std::span<const std::string> identifiers) const = 0;
  virtual result<void> delete_desired(std::string_view product_key, std::string_view device_name,
                                      std::span<const desired_removal> removals) = 0;

  // ---- downlinks ---------------------------------------------------------------------------
  // already_exists when the id is taken for this device. Retention applies to the device's
  // records.
  virtual result<void> record_downlink(std::string_view product_key, std::string_view device_name,
                                       const downlink_record& record) = 0;
  // Sets the outcome of a pending record; not_found when there is none with that id or it is
  // no longer pending (a late reply after a timeout changes nothing).
  virtual result<void> complete_downlink(std::string_view product_key, std::string_view device_name,
                                         std::string_view id, downlink_outcome outcome,
                                         std::optional<int> reply_code,
                                         std::optional<std::string_view> reply, timestamp at) = 0;
  virtual result<downlink_record> get_downlink(std::string_view product_key,
                                               std::string_view device_name,
                                               std::string_view id) const = 0;
  // Newest first.
  virtual result<std::vector<downlink_record>>
  downlinks(std::string_view product_key, std::string_view device_name, page p) const = 0;

  // ---- housekeeping ------------------------------------------------------------------------
  // Applies the age limits of the retention to every device; returns the rows removed.
  // Firmware versions: a report replaces the module's previous one.
  virtual result<void> record_firmware(std::string_view product_key, std::string_view device_name,
                                       const firmware_version& v) = 0;
  // By module name.
  virtual result<std::vector<firmware_version>> firmware(std::string_view product_key,
                                                         std::string_view device_name) const = 0;
  // By module, then version; only versions some device reports.
  virtual result<std::vector<version_count>>
  firmware_counts(std::string_view product_key) const = 0;

  virtual result<std::uint64_t> prune(timestamp now) = 0;
  // Removes everything of one device. (With the SQLite backends sharing one file, the identity
  // store's delete_device removes it too, through the foreign keys.)
  virtual result<void> delete_device_data(std::string_view product_key,
                                          std::string_view device_name) = 0;
};

} // namespace thingport::store

template <> struct std::is_error_code_enum<thingport::store::thing_errc> : std::true_type {};
