// thingport-device-probe: one SDK client driven line by line on stdin, reporting every event as a
// JSON line on stdout, for the integration tests (tests/integration/test_sdk*.py).
//
// Options: --url U [--pk P --dn D --ds S] [--client-id I] [--username U --password P] [--ca F]
//   [--insecure] [--sign-method M] [--clean-session 0|1] [--keepalive S] [--backoff-ms N]
//   [--backoff-max-ms N] [--per-minute N] [--connect-timeout-ms N] [--window N] [--buffer N]
//   [--thing] (Alink helpers: property sets answered 200, RRPC echoed)
//   [--register URL --product-secret S [--register-timeout-ms N]] (dynamic registration first,
//   over HTTP for http(s):// URLs, over MQTT for mqtts:// and wss:// ones; then connect)
// Commands: pub TOPIC QOS PAYLOAD | pubn TOPIC QOS COUNT PREFIX | sub FILTER QOS | post JSON |
//   event ID JSON | shadow REPORTED_JSON | shadow_get | ntp [N] | stats | quit
// With --gateway (the client's device is a gateway): gw_add PK:DN:DS... | gw_login PK:DN:DS |
//   gw_logout PK:DN | gw_delete PK:DN... | gw_get | gw_register PK:DN... |
//   gw_product_register PRODUCT_SECRET PK:DN... (each reported as {"event":"gw_reply","op"...})
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "thingport/device/client.hpp"
#include "thingport/device/gateway.hpp"
#include "thingport/device/registration.hpp"
#include "thingport/device/thing.hpp"

namespace dev = thingport::device;
namespace json = boost::json;

namespace {

std::mutex out_mutex;

void emit(json::object o) {
  const std::string line = json::serialize(o);
  std::lock_guard lock(out_mutex);
  std::cout << line << std::endl;
}

json::object error_fields(std::error_code ec) {
  if (!ec)
    return {{"error", nullptr}};
  return {{"error", ec.message()}, {"category", ec.category().name()}, {"value", ec.value()}};
}

// The rest of a command line as a JSON object; reports a bad command otherwise.
std::optional<json::object> json_rest(std::istringstream& in, const std::string& line) {
  std::string body;
  std::getline(in >> std::ws, body);
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    emit({{"event", "bad_command"}, {"line", line}});
    return std::nullopt;
  }
  return std::move(v.as_object());
}

const char* state_name(dev::link_state s) {
  switch (s) {
  case dev::link_state::stopped:
    return "stopped";
  case dev::link_state::connecting:
    return "connecting";
  case dev::link_state::connected:
    return "connected";
  case dev::link_state::waiting:
    return "waiting";
  }
  return "?";
}

// PK:DN[:DS] words to the end of the line.
std::vector<dev::triplet> triplets(std::istringstream& in) {
  std::vector<dev::triplet> out;
  std::string w;
  while (in >> w) {
    const auto a = w.find(':');
    const auto b = w.find(':', a == std::string::npos ? a : a + 1);
    if (a == std::string::npos)
      continue;
    out.push_back({w.substr(0, a), w.substr(a + 1, b == std::string::npos ? b : b - a - 1),
                   b == std::string::npos ? std::string() : w.substr(b + 1)});
  }
  return out;
}

std::vector<dev::device_ref> refs_of(const std::vector<dev::triplet>& ts) {
  std::vector<dev::device_ref> out;
  for (const auto& t : ts)
    out.push_back({t.product_key, t.device_name});
  return out;
}

// A gateway command; false when `cmd` is not one.
bool gateway_command(dev::gateway& gw, const std::string& cmd, std::istringstream& in) {
  auto done = [cmd](std::error_code ec, const dev::alink_reply& r) {
    json::object e = error_fields(ec);
    e["event"] = "gw_reply";
    e["op"] = cmd;
    e["code"] = r.code;
    e["data"] = r.data;
    e["message"] = r.message;
    emit(std::move(e));
  };
  if (cmd == "gw_product_register") {
    std::string secret;
    in >> secret;
    gw.product_register(refs_of(triplets(in)), secret, done);
    return true;
  }
  const auto ts = cmd == "gw_get" ? std::vector<dev::triplet>{} : triplets(in);
  if (cmd == "gw_add")
    gw.add_topo(ts, done);
  else if (cmd == "gw_login" && ts.size() == 1)
    gw.login(ts[0], done);
  else if (cmd == "gw_logout" && ts.size() == 1)
    gw.logout(refs_of(ts)[0], done);
  else if (cmd == "gw_delete")
    gw.delete_topo(refs_of(ts), done);
  else if (cmd == "gw_get")
    gw.get_topo(done);
  else if (cmd == "gw_register")
    gw.register_subs(refs_of(ts), done);
  else
    return false;
  return true;
}

} // namespace

int main(int argc, char** argv) {
  dev::options o;
  bool with_thing = false;
  bool with_gateway = false;
  dev::registration_request reg;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "missing value for " << a << "\n";
        std::exit(2);
      }
      return argv[++i];
    };
    auto ms = [&] { return std::chrono::milliseconds(std::stol(next())); };
    if (a == "--url")
      o.url = next();
    else if (a == "--pk")
      o.device.product_key = next();
    else if (a == "--dn")
      o.device.device_name = next();
    else if (a == "--ds")
      o.device.device_secret = next();
    else if (a == "--client-id")
      o.client_id = next();
    else if (a == "--username")
      o.username = next();
    else if (a == "--password")
      o.password = next();
    else if (a == "--ca")
      o.ca_file = next();
    else if (a == "--insecure")
      o.verify_peer = false;
    else if (a == "--sign-method")
      o.sign_method = next();
    else if (a == "--clean-session")
      o.clean_session = next() != "0";
    else if (a == "--keepalive")
      o.keepalive = std::chrono::seconds(std::stol(next()));
    else if (a == "--backoff-ms")
      o.backoff_initial = ms();
    else if (a == "--backoff-max-ms")
      o.backoff_max = ms();
    else if (a == "--per-minute")
      o.max_connects_per_minute = static_cast<unsigned>(std::stoul(next()));
    else if (a == "--connect-timeout-ms")
      o.connect_timeout = ms();
    else if (a == "--window")
      o.inflight_window = std::stoul(next());
    else if (a == "--buffer")
      o.offline_buffer = std::stoul(next());
    else if (a == "--thing")
      with_thing = true;
    else if (a == "--gateway")
      with_gateway = true;
    else if (a == "--register")
      reg.url = next();
    else if (a == "--product-secret")
      reg.product_secret = next();
    else if (a == "--register-timeout-ms")
      reg.timeout = ms();
    else {
      std::cerr << "unknown option " << a << "\n";
      return 2;
    }
  }
  if (!reg.url.empty()) { // dynamic registration first: it gives the device secret
    reg.product_key = o.device.product_key;
    reg.device_name = o.device.device_name;
    reg.ca_file = o.ca_file;
    auto r = dev::register_device(reg);
    json::object e = error_fields(r.error);
    e["event"] = "registered";
    e["code"] = r.code;
    e["message"] = r.message;
    e["got_secret"] = !r.device.device_secret.empty();
    emit(std::move(e));
    if (r.error || r.code != 200)
      return 0;
    o.device.device_secret = r.device.device_secret;
  }
  std::unique_ptr<dev::client> c;
  try {
    c = std::make_unique<dev::client>(o);
  } catch (const std::exception& e) {
    emit({{"event", "config_error"}, {"message", e.what()}});
    return 2;
  }
  c->on_status([](const dev::status& s) {
    json::object e = error_fields(s.error);
    e["event"] = "status";
    e["state"] = state_name(s.state);
    e["failures"] = s.failures;
    e["retry_in_ms"] = s.retry_in.count();
    e["session_present"] = s.session_present;
    e["describe"] = s.describe();
    emit(std::move(e));
  });
  auto on_msg = [](const dev::message& m) {
    emit({{"event", "message"},
          {"topic", m.topic},
          {"payload", m.payload},
          {"qos", m.qos},
          {"dup", m.dup}});
  };
  c->on_message(on_msg);
  std::unique_ptr<dev::thing> t;
  if (with_thing) {
    t = std::make_unique<dev::thing>(*c, std::chrono::seconds(5));
    t->on_property_set([](const json::object& params) {
      emit({{"event", "set"}, {"params", params}});
      return dev::alink_result{};
    });
    t->on_service([](std::string_view id, const json::value& params) {
      emit({{"event", "service"}, {"identifier", id}, {"params", params}});
      return dev::alink_result{200, json::object{{"echo", params}}, "success"};
    });
    t->on_shadow_control([](const json::object& desired, std::int64_t version) {
      emit({{"event", "shadow_control"}, {"desired", desired}, {"version", version}});
      return std::optional<json::object>(desired); // applied as asked
    });
    t->on_rrpc([](std::string_view id, std::string_view payload) {
      emit({{"event", "rrpc"}, {"id", id}, {"payload", payload}});
      return "pong:" + std::string(payload);
    });
  }
  std::unique_ptr<dev::gateway> gw;
  if (with_gateway)
    gw = std::make_unique<dev::gateway>(*c, std::chrono::seconds(5));
  c->start();

  auto reply_cb = [](std::string what) {
    return [what](std::error_code ec, const dev::alink_reply& r) {
      json::object e = error_fields(ec);
      e["event"] = what;
      e["id"] = r.id;
      e["code"] = r.code;
      e["message"] = r.message;
      emit(std::move(e));
    };
  };
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    if (cmd == "quit")
      break;
    if (cmd == "pub" || cmd == "pubn") {
      std::string topic;
      int qos = 0;
      long count = 1;
      in >> topic >> qos;
      if (cmd == "pubn")
        in >> count;
      std::string payload;
      std::getline(in >> std::ws, payload);
      for (long n = 0; n < count; ++n) {
        std::string body = cmd == "pubn" ? payload + "-" + std::to_string(n) : payload;
        c->publish(topic, body, static_cast<std::uint8_t>(qos), false, [body](std::error_code ec) {
          json::object e = error_fields(ec);
          e["event"] = "published";
          e["payload"] = body;
          emit(std::move(e));
        });
      }
    } else if (cmd == "sub") {
      std::string filter;
      int qos = 0;
      in >> filter >> qos;
      c->subscribe(filter, static_cast<std::uint8_t>(qos), on_msg,
                   [filter](std::error_code ec, int granted) {
                     json::object e = error_fields(ec);
                     e["event"] = "suback";
                     e["filter"] = filter;
                     e["granted"] = granted;
                     emit(std::move(e));
                   });
    } else if (cmd == "unsub") {
      std::vector<std::string> filters;
      for (std::string f; in >> f;)
        filters.push_back(f);
      c->unsubscribe(filters, [](std::error_code ec) {
        json::object e = error_fields(ec);
        e["event"] = "unsuback";
        emit(std::move(e));
      });
    } else if ((cmd == "post" || cmd == "event") && t) {
      std::string id;
      if (cmd == "event")
        in >> id;
      auto v = json_rest(in, line);
      if (!v)
        continue;
      if (cmd == "post")
        t->post_properties(std::move(*v), reply_cb("post_reply"));
      else
        t->post_event(id, std::move(*v), reply_cb("event_reply"));
    } else if ((cmd == "shadow" || cmd == "shadow_get") && t) {
      auto done = [](std::error_code ec, const json::object& reply) {
        json::object e = error_fields(ec);
        e["event"] = "shadow_reply";
        e["reply"] = reply;
        emit(std::move(e));
      };
      if (cmd == "shadow_get") {
        t->shadow_get(done);
        continue;
      }
      auto v = json_rest(in, line);
      if (!v)
        continue;
      t->shadow_report(std::move(*v), 0, done);
    } else if (cmd == "ntp" && t) {
      int n = 1; // ntp N: N requests back to back (several in the same millisecond)
      in >> n;
      for (int i = 0; i < n; ++i) {
        t->sync_time([](std::error_code ec, std::chrono::milliseconds off) {
          json::object e = error_fields(ec);
          e["event"] = "ntp";
          e["offset_ms"] = off.count();
          emit(std::move(e));
        });
      }
    } else if (gw && cmd.starts_with("gw_")) {
      if (!gateway_command(*gw, cmd, in))
        emit({{"event", "bad_command"}, {"line", line}});
    } else if (cmd == "stats") {
      const auto& s = c->stats();
      emit({{"event", "stats"},
            {"attempts", s.attempts.load()},
            {"connects", s.connects.load()},
            {"published", s.published.load()},
            {"acked", s.acked.load()},
            {"retried", s.retried.load()},
            {"received", s.received.load()},
            {"refused", s.refused.load()}});
    } else {
      emit({{"event", "bad_command"}, {"line", line}});
    }
  }
  if (gw)
    gw->cancel();
  if (t)
    t->cancel();
  c->stop();
  emit({{"event", "exit"}});
  return 0;
}
