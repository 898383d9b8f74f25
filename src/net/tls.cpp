#include "net/tls.hpp"

#include <stdexcept>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace thingport::net {

namespace ssl = boost::asio::ssl;

namespace {

// TLS 1.2 suites: ECDHE key exchange and AEAD ciphers only (Mozilla's "intermediate" list minus
// DHE). TLS 1.3 keeps OpenSSL's defaults, which are all AEAD.
constexpr const char* tls12_ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                      "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                      "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0)
    return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

} // namespace

std::shared_ptr<tls_context> make_server_context(const std::string& cert_file,
                                                 const std::string& key_file) {
  auto ctx = std::make_shared<tls_context>(ssl::context::tls_server);
  SSL_CTX* h = ctx->native_handle();
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                   ssl::context::single_dh_use);
  // No TLS 1.2 renegotiation (a client could make the server do handshakes at will).
  SSL_CTX_set_options(h, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_min_proto_version(h, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(h, tls12_ciphers) != 1)
    throw std::runtime_error("TLS setup: " + openssl_error());
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(cert_file, ec);
  if (ec)
    throw std::runtime_error("TLS certificate " + cert_file + ": " + ec.message());
  ctx->use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec)
    throw std::runtime_error("TLS key " + key_file + ": " + ec.message());
  if (SSL_CTX_check_private_key(h) != 1)
    throw std::runtime_error("TLS key " + key_file + " does not match " + cert_file + ": " +
                             openssl_error());
  return ctx;
}

tls_store::tls_store(std::string cert_file, std::string key_file)
    : cert_(std::move(cert_file)), key_(std::move(key_file)),
      ctx_(make_server_context(cert_, key_)) {}

void tls_store::reload() {
  auto fresh = make_server_context(cert_, key_);
  std::lock_guard lock(mu_);
  ctx_ = std::move(fresh);
}

std::shared_ptr<tls_context> tls_store::current() const {
  std::lock_guard lock(mu_);
  return ctx_;
}

} // namespace thingport::net
