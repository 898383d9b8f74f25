// thingport-device --gateway: one gateway and its sub-devices over its one link (simulator.hpp,
// run_gateway): topology, batch logins with their rate measured, then pack posts. One I/O
// thread; every step runs on the client's strand.
#include <algorithm>
#include <csignal>
#include <iostream>
#include <map>
#include <memory>
#include <random>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>

#include "simulator.hpp"
#include "thingport/device/gateway.hpp"

namespace thingport::device::sim {

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using clock = std::chrono::steady_clock;

constexpr std::size_t topo_chunk = 30;  // thing.topo.add takes at most 30
constexpr std::size_t login_chunk = 50; // combine/batch_login takes at most 50
constexpr std::size_t pack_chunk = 50;  // pack/post carries at most 50 sub-devices
constexpr std::size_t logins_in_flight = 4;

class gateway_sim {
public:
  gateway_sim(asio::io_context& io, const gateway_run& g)
      : g_(g), io_(io), client_(io.get_executor(), g.base), gw_(client_), retry_(io), tick_(io),
        deadline_(io), signals_(io, SIGINT, SIGTERM), rng_(std::random_device{}()) {
    walks_.assign(g.subs.size(), g.walks);
    gw_.on_notice([this](std::string_view method, const json::value& params) {
      if (g_.verbose)
        log("notice " + std::string(method) + " " + json::serialize(params));
    });
    client_.on_status([this](const status& st) {
      if (g_.verbose || st.error)
        log("gateway " + st.describe());
      if (st.state == link_state::connected && !started_) {
        started_ = true;
        add_topo(0);
      }
    });
  }

  int run() {
    signals_.async_wait([this](boost::system::error_code ec, int) {
      if (!ec)
        stop("signal");
    });
    if (g_.duration > 0) {
      deadline_.expires_after(std::chrono::milliseconds(static_cast<long>(g_.duration * 1000)));
      deadline_.async_wait([this](boost::system::error_code ec) {
        if (!ec)
          stop("duration over");
      });
    }
    client_.start();
    io_.run();
    summary();
    const bool all_in = logged_in_ == g_.subs.size();
    const bool all_ok = posted_ > 0 && codes_[200] == posted_;
    return all_in && all_ok && failure_.empty() ? 0 : 3;
  }

private:
  void log(const std::string& line) const { std::cout << line << std::endl; }

  void stop(const std::string& why) {
    if (stopping_)
      return;
    stopping_ = true;
    if (!why.empty())
      failure_ = why;
    retry_.cancel();
    tick_.cancel();
    deadline_.cancel();
    signals_.cancel();
    gw_.cancel();
    client_.stop();
  }

  std::vector<triplet> slice(std::size_t from, std::size_t n) const {
    const auto end = std::min(g_.subs.size(), from + n);
    return {g_.subs.begin() + static_cast<std::ptrdiff_t>(from),
            g_.subs.begin() + static_cast<std::ptrdiff_t>(end)};
  }

  void add_topo(std::size_t from) {
    if (stopping_)
      return;
    if (from >= g_.subs.size()) {
      log("topology: " + std::to_string(g_.subs.size()) + " sub-devices added");
      login_start_ = clock::now();
      for (std::size_t i = 0; i < logins_in_flight; ++i)
        next_login();
      return;
    }
    gw_.add_topo(slice(from, topo_chunk), [this, from](std::error_code ec, const alink_reply& r) {
      if (ec || r.code != 200)
        return stop("topo add: " + (ec ? ec.message() : std::to_string(r.code) + " " + r.message));
      add_topo(from + topo_chunk);
    });
  }

  void next_login() {
    if (stopping_ || next_login_ >= g_.subs.size())
      return;
    const auto from = next_login_;
    next_login_ += login_chunk;
    send_login(from);
  }

  void send_login(std::size_t from) {
    auto batch = slice(from, login_chunk);
    const auto n = batch.size();
    gw_.batch_login(batch, [this, from, n](std::error_code ec, const alink_reply& r) {
      if (stopping_)
        return;
      if (!ec && r.code == 429) { // the gateway's login bound: wait a little, then again
        ++refused_;
        auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
        t->async_wait([this, t, from](boost::system::error_code e) {
          if (!e && !stopping_)
            send_login(from);
        });
        return;
      }
      if (ec || r.code != 200)
        return stop("batch login: " +
                    (ec ? ec.message() : std::to_string(r.code) + " " + r.message));
      logged_in_ += n;
      if (logged_in_ == g_.subs.size())
        return logins_done();
      next_login();
    });
  }

  void logins_done() {
    login_seconds_ = std::chrono::duration<double>(clock::now() - login_start_).count();
    rate_ = login_seconds_ > 0 ? static_cast<double>(logged_in_) / login_seconds_ : 0;
    log("logged in " + std::to_string(logged_in_) + " sub-devices in " +
        std::to_string(login_seconds_) + " s: " + std::to_string(static_cast<long>(rate_)) +
        " logins/s (" + std::to_string(refused_) + " batches refused with 429 and retried)");
    post_round();
  }

  void post_round() {
    if (stopping_)
      return;
    ++round_;
    for (std::size_t from = 0; from < g_.subs.size(); from += pack_chunk) {
      std::vector<gateway::sub_properties> pack;
      for (std::size_t i = from; i < std::min(g_.subs.size(), from + pack_chunk); ++i) {
        json::object props;
        for (auto& w : walks_[i])
          props[w.name] = w.next(rng_);
        pack.push_back({{g_.subs[i].product_key, g_.subs[i].device_name}, std::move(props)});
      }
      ++posted_;
      gw_.pack_post(pack, [this](std::error_code ec, const alink_reply& r) {
        ++answered_;
        if (ec)
          ++errors_;
        else
          ++codes_[r.code];
        if ((ec || r.code != 200) && g_.verbose)
          log("pack post: " + (ec ? ec.message() : std::to_string(r.code) + " " + r.message));
        if (round_ == g_.count && answered_ == posted_)
          stop("");
      });
    }
    if (round_ < g_.count) {
      tick_.expires_after(std::chrono::milliseconds(static_cast<long>(g_.interval * 1000)));
      tick_.async_wait([this](boost::system::error_code ec) {
        if (!ec)
          post_round();
      });
    }
  }

  void summary() {
    json::object codes;
    for (const auto& [c, n] : codes_)
      codes[std::to_string(c)] = n;
    json::object s{{"subs", g_.subs.size()},
                   {"logged_in", logged_in_},
                   {"login_seconds", login_seconds_},
                   {"logins_per_second", rate_},
                   {"login_batches_refused", refused_},
                   {"pack_posts", posted_},
                   {"replies", std::move(codes)},
                   {"errors", errors_}};
    if (!failure_.empty())
      s["failure"] = failure_;
    std::cout << "summary " << json::serialize(s) << std::endl;
  }

  const gateway_run& g_;
  asio::io_context& io_;
  client client_;
  gateway gw_;
  asio::steady_timer retry_, tick_, deadline_;
  asio::signal_set signals_;
  std::mt19937_64 rng_;
  std::vector<std::vector<walk>> walks_;
  bool started_ = false, stopping_ = false;
  std::string failure_;
  std::size_t next_login_ = 0, logged_in_ = 0;
  std::uint64_t refused_ = 0;
  clock::time_point login_start_{};
  double login_seconds_ = 0, rate_ = 0;
  unsigned round_ = 0;
  std::uint64_t posted_ = 0, answered_ = 0, errors_ = 0;
  std::map<int, std::uint64_t> codes_;
};

} // namespace

int run_gateway(const gateway_run& g) {
  asio::io_context io(1);
  try {
    gateway_sim sim(io, g);
    return sim.run();
  } catch (const std::exception& e) {
    std::cerr << "thingport-device: " << e.what() << "\n";
    return 1;
  }
}

} // namespace thingport::device::sim
