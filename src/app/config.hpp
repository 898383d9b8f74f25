// The configuration file (TOML, README.md). Every key is optional; missing keys keep the
// embedded defaults. Unknown keys and wrong types are errors with the key's path.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace thingport::app {

struct config {
  std::string data_dir = "./data";
  struct {
    std::string tcp = "0.0.0.0:1883";
    std::string tls = "0.0.0.0:8883";
    std::string ws = "0.0.0.0:8083";
    std::string wss = "0.0.0.0:8084";
    std::string auto_ = "";
    std::vector<std::string> ws_origins; // browser Origins allowed on ws/wss; empty: any
    // Per listener (`tcp = { address = "...", proxy_protocol = true }`): connections come from
    // a load balancer that puts a PROXY header (v1 or v2) before the client's bytes.
    struct {
      bool tcp = false, tls = false, ws = false, wss = false, auto_ = false;
    } proxy_protocol;
  } listeners;
  struct {
    std::string cert = "";
    std::string key = "";
  } tls;
  struct {
    bool allow_anonymous = false;
    std::vector<std::string> deny_subscribe;
  } auth;
  struct {
    std::string listen = "127.0.0.1:8080";
    std::string token = "";
    std::size_t max_connections = 256;       // open API connections in all
    std::size_t max_connections_per_ip = 64; // from one source address
  } http;
  struct {
    std::size_t max_payload = 262144;
    std::uint16_t keepalive_min = 30;
    std::uint16_t keepalive_max = 1200;
    std::size_t offline_queue = 1000;
    std::uint64_t offline_queue_bytes = 64ull << 20; // topic + payload bytes per session
    std::uint64_t offline_total_bytes = 1ull << 30;  // of all sessions together; 0: no bound
    std::chrono::seconds offline_ttl{7 * 24 * 3600};
    std::uint32_t connect_rate = 5;    // connect attempts per device per minute; 0: no limit
    std::uint32_t login_failures = 10; // failed logins per source address per minute; 0: none
    std::uint32_t subdevice_logins_per_second = 200; // per gateway (combine/login); 0: no limit
    std::uint64_t max_outbound = 8ull << 20;         // unread bytes queued to one connection
    std::uint64_t max_connect_size = 16 * 1024;      // a packet before CONNECT is accepted
    std::uint64_t max_retained = 100'000;            // retained messages in all
    std::uint64_t max_retained_bytes = 256ull << 20; // their topic + payload bytes
    std::uint16_t max_subscriptions = 1000;          // per generic (anonymous) client
    std::uint16_t max_inflight_out = 32;  // outbound QoS 1/2 awaiting acknowledgement per session
    std::uint16_t max_inflight_in = 100;  // inbound QoS 1 awaiting PUBACK per client
    std::uint64_t max_app_sessions = 100; // persistent sessions per app credential
    std::uint64_t max_anonymous_sessions = 10'000; // persistent sessions of generic clients
    std::string overload = "backpressure";         // or "drop" (broker::overload_mode)
    std::chrono::seconds slow_consumer{30};  // past its queue bound, acknowledging nothing: closed
    std::uint64_t max_firmware = 1ull << 30; // bytes of one OTA firmware upload
  } limits;
  struct {
    std::string backend = "sqlite";
    std::string url = "";           // postgresql://user[:password]@host:port/db[?sslmode=...]
    std::string password_file = ""; // the password's file, if not in the URL or PGPASSWORD
    std::string durability = "sync";
    std::uint64_t disk_budget = 10ull << 30; // bytes the session store may use; 0: no budget
  } store;
  struct {
    std::string nats = "";
    std::string node = "";
    std::int64_t replicas = 1; // JetStream replicas of what the cluster keeps (retained)
  } cluster;
  struct { // [thing]: an extension of README.md (docs/thing.md "Retention")
    std::size_t keep_values = 10'000;              // per property, and events per identifier
    std::size_t max_properties = 1000;             // property identifiers per device
    std::chrono::seconds keep_age{30 * 24 * 3600}; // 0: no age limit
    std::chrono::seconds prune_interval{3600};     // 0: never prune by the clock
  } thing;
  struct {                              // [ota] (docs/ota.md)
    std::string url_base = "";          // what devices download from; "": http://<[http] listen>
    unsigned timeout_unit_seconds = 60; // a job's timeoutMinutes counts these (1..60)
  } ota;
  unsigned workers = 0; // [server] workers; 0 = one per core
  std::string log_level = "info";
};

// Throws std::runtime_error with a message naming the file and key.
config load_config(const std::string& path);

// "30s", "15m", "12h", "7d" or a plain number of seconds.
std::chrono::seconds parse_duration(const std::string& text);

// "512", "64KB", "64MB", "10GB" (also KiB/MiB/GiB; K/M/G are 1024-based either way) or a
// plain number of bytes.
std::uint64_t parse_size(const std::string& text);

} // namespace thingport::app
