// `thingport cert dev`: a development CA and a server certificate it signs, made with OpenSSL's C
// API, so TLS and WSS can be tried on a machine without a real certificate. Control plane:
// throws std::runtime_error.
#pragma once

#include <string>
#include <vector>

namespace thingport::app {

struct dev_cert_request {
  std::string dir = "./data";     // where the files go (the data directory)
  std::vector<std::string> hosts; // extra names or addresses the server certificate covers
};

struct dev_cert_result {
  bool new_ca = false;            // false: an existing ca.pem/ca.key pair was reused
  std::vector<std::string> names; // the server certificate's subject alternative names
};

// Writes ca.pem and ca.key (an existing pair is kept, so clients that trust it keep working) and
// server.pem and server.key (SAN: localhost, 127.0.0.1, ::1 and `hosts`) into `dir`; keys are
// written with mode 0600. Files are replaced atomically (a SIGHUP reload never sees half a file).
dev_cert_result make_dev_certs(const dev_cert_request& r);

// The subcommand: makes the files and tells how to use them. Returns the exit code.
int cert_dev_command(const dev_cert_request& r);

} // namespace thingport::app
