#include "registration_mqtt.hpp"

#include <random>
#include <string>
#include <utility>
#include <variant>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/parse.hpp>

#include "mqtt/packet.hpp"
#include "mqtt/parser.hpp"
#include "mqtt/serializer.hpp"
#include "thingport/device/error.hpp"
#include "transport.hpp"

namespace thingport::device::detail {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

mqtt::connect_packet register_connect(const registration_request& r, auth::sign_method method) {
  std::mt19937_64 rng(std::random_device{}());
  const std::string random = std::to_string(rng());
  mqtt::connect_packet c;
  c.clean_session = true;
  c.keepalive = 60;
  c.client_id = r.product_key + "." + r.device_name +
                "|securemode=2,authType=register,random=" + random +
                ",signmethod=" + std::string(auth::to_string(method)) + "|";
  c.username = r.device_name + "&" + r.product_key;
  c.password = auth::register_sign(method, r.product_secret, r.device_name, r.product_key, random);
  return c;
}

// {"productKey","deviceName","deviceSecret"} -> out.device and code 200, else bad_reply.
void take_answer(std::string_view payload, registration_result& out) {
  boost::system::error_code jec;
  const json::value v = json::parse(payload, jec);
  const auto* o = v.if_object();
  auto field = [o](std::string_view k) {
    const auto* f = o != nullptr ? o->if_contains(k) : nullptr;
    return f != nullptr && f->is_string() ? std::string(f->as_string()) : std::string();
  };
  out.device = {field("productKey"), field("deviceName"), field("deviceSecret")};
  if (jec || out.device.device_secret.empty()) {
    out.error = make_error_code(errc::bad_reply);
    return;
  }
  out.code = 200;
  out.message = "success";
}

class exchange {
public:
  exchange(transport& link, const server_url& url, mqtt::connect_packet connect,
           registration_result& out)
      : link_(link), url_(url), connect_(std::move(connect)), out_(out) {
    opts_.side = mqtt::parser_options::role::client;
  }

  // CONNACK 0 seen: a timeout after it is a missing answer.
  bool acknowledged() const noexcept { return acknowledged_; }

  asio::awaitable<std::error_code> run() {
    bool session_present = false;
    if (auto ec = co_await mqtt_handshake(link_, url_, connect_, rbuf_, opts_, session_present))
      co_return ec;
    acknowledged_ = true;
    mqtt::packet p;
    for (;;) { // the answer comes unasked; anything else is skipped
      if (auto ec = co_await rbuf_.next(link_, opts_, p))
        co_return ec;
      const auto* pub = std::get_if<mqtt::publish_packet>(&p);
      if (pub == nullptr || pub->topic != "/ext/register")
        continue;
      take_answer(pub->payload, out_);
      if (pub->qos == 1)
        co_await send(mqtt::puback_packet{pub->packet_id});
      co_await send(mqtt::disconnect_packet{});
      co_return out_.error;
    }
  }

private:
  transport& link_;
  const server_url& url_;
  mqtt::connect_packet connect_;
  registration_result& out_;
  read_buffer rbuf_;
  mqtt::parser_options opts_;
  bool acknowledged_ = false;

  asio::awaitable<std::error_code> send(const mqtt::packet& p) {
    std::string bytes;
    mqtt::encode(p, bytes);
    co_return co_await link_.write(asio::buffer(bytes));
  }
};

} // namespace

registration_result register_over_mqtt(const registration_request& r, const server_url& url,
                                       auth::sign_method method) {
  registration_result out;
  std::shared_ptr<asio::ssl::context> tls;
  if (url.secure()) {
    try {
      tls = make_tls_context(r.ca_file, true);
    } catch (const std::exception&) {
      out.error = make_error_code(errc::invalid_argument); // the CA file could not be loaded
      return out;
    }
  }
  asio::io_context io;
  transport link(io.get_executor(), tls);
  bool timed_out = false;
  // One deadline (r.timeout) for connect, handshakes, CONNACK and the answer together.
  asio::steady_timer deadline(io, r.timeout);
  deadline.async_wait([&](boost::system::error_code ec) {
    if (!ec) {
      timed_out = true;
      link.close();
    }
  });
  exchange x(link, url, register_connect(r, method), out);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        const auto ec = co_await x.run();
        if (ec && !out.error)
          out.error = ec;
        deadline.cancel();
        link.close();
      },
      asio::detached);
  io.run();
  if (timed_out && out.code != 200)
    out.error = make_error_code(x.acknowledged() ? errc::reply_timeout : errc::connect_timeout);
  return out;
}

} // namespace thingport::device::detail
