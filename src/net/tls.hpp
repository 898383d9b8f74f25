// TLS server contexts (OpenSSL through Asio): TLS 1.2 and 1.3 only, forward-secret AEAD ciphers,
// a PEM certificate chain and its key. The store gives each new handshake the current context;
// reload() (SIGHUP) swaps in a context built from the files again, while established connections
// keep the context they started with (each holds a reference). Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/ssl/context.hpp>

namespace thingport::net {

using tls_context = boost::asio::ssl::context;

// Throws std::runtime_error naming the file when the chain or key cannot be used.
std::shared_ptr<tls_context> make_server_context(const std::string& cert_file,
                                                 const std::string& key_file);

class tls_store {
public:
  tls_store(std::string cert_file, std::string key_file); // loads now; throws
  // Loads the files again. On failure the current context stays and the error is thrown.
  void reload();
  std::shared_ptr<tls_context> current() const;
  const std::string& cert_file() const noexcept { return cert_; }

private:
  std::string cert_;
  std::string key_;
  mutable std::mutex mu_;
  std::shared_ptr<tls_context> ctx_;
};

} // namespace thingport::net
