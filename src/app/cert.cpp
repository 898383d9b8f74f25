#include "app/cert.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace thingport::app {

namespace {

namespace fs = std::filesystem;

template <class T, void (*Free)(T*)> struct deleter {
  void operator()(T* p) const noexcept { Free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509, X509_free>>;
using bio_ptr = std::unique_ptr<BIO, deleter<BIO, BIO_free_all>>;
using bn_ptr = std::unique_ptr<BIGNUM, deleter<BIGNUM, BN_free>>;
void free_names(GENERAL_NAMES* n) {
  GENERAL_NAMES_free(n);
}
using names_ptr = std::unique_ptr<GENERAL_NAMES, deleter<GENERAL_NAMES, free_names>>;

constexpr long ca_days = 3650;
constexpr long server_days = 825;

[[noreturn]] void fail(const std::string& what) {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  char buf[256] = "";
  if (e != 0)
    ERR_error_string_n(e, buf, sizeof buf);
  throw std::runtime_error("cert dev: " + what + (e != 0 ? std::string(": ") + buf : ""));
}

void check(int ok, const char* what) {
  if (ok != 1)
    fail(what);
}

pkey_ptr new_key() {
  pkey_ptr k(EVP_EC_gen("P-256")); // fast handshakes; every client we test with accepts it
  if (!k)
    fail("generating a P-256 key");
  return k;
}

void add_ext(X509* x, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  if (ext == nullptr)
    fail(std::string("extension ") + OBJ_nid2sn(nid));
  const int ok = X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  check(ok, "adding an extension");
}

// DNS names, or IP addresses when the text parses as one.
names_ptr alt_names(const std::vector<std::string>& names) {
  names_ptr out(sk_GENERAL_NAME_new_null());
  if (!out)
    fail("allocating names");
  for (const auto& n : names) {
    GENERAL_NAME* gn = GENERAL_NAME_new();
    if (gn == nullptr)
      fail("allocating a name");
    if (ASN1_OCTET_STRING* ip = a2i_IPADDRESS(n.c_str())) {
      GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
    } else {
      ERR_clear_error();
      ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
      if (dns == nullptr || ASN1_STRING_set(dns, n.data(), static_cast<int>(n.size())) != 1) {
        ASN1_IA5STRING_free(dns);
        GENERAL_NAME_free(gn);
        fail("name '" + n + "'");
      }
      GENERAL_NAME_set0_value(gn, GEN_DNS, dns);
    }
    if (sk_GENERAL_NAME_push(out.get(), gn) <= 0) {
      GENERAL_NAME_free(gn);
      fail("adding a name");
    }
  }
  return out;
}

// A v3 certificate for `key`; self-signed when `issuer` is null.
x509_ptr make_cert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key, bool ca,
                   const std::vector<std::string>& names) {
  x509_ptr x(X509_new());
  if (!x)
    fail("allocating a certificate");
  check(X509_set_version(x.get(), 2), "version");
  bn_ptr serial(BN_new());
  check(serial && BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1, "serial");
  if (BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(x.get())) == nullptr)
    fail("serial");
  if (X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600) == nullptr || // some clock skew
      X509_gmtime_adj(X509_getm_notAfter(x.get()), (ca ? ca_days : server_days) * 86400) == nullptr)
    fail("validity");
  check(X509_set_pubkey(x.get(), key), "public key");
  X509_NAME* subject = X509_get_subject_name(x.get());
  const auto* org = reinterpret_cast<const unsigned char*>("thingport development");
  check(X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC, org, -1, -1, 0), "subject");
  check(X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(cn), -1, -1, 0),
        "subject");
  check(X509_set_issuer_name(x.get(), issuer != nullptr ? X509_get_subject_name(issuer) : subject),
        "issuer");

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : x.get(), x.get(), nullptr, nullptr, 0);
  add_ext(x.get(), &ctx, NID_basic_constraints,
          ca ? "critical,CA:TRUE,pathlen:0" : "critical,CA:FALSE");
  add_ext(x.get(), &ctx, NID_key_usage,
          ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  add_ext(x.get(), &ctx, NID_subject_key_identifier, "hash");
  add_ext(x.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  if (!ca) {
    add_ext(x.get(), &ctx, NID_ext_key_usage, "serverAuth");
    check(X509_add1_ext_i2d(x.get(), NID_subject_alt_name, alt_names(names).get(), 0,
                            X509V3_ADD_DEFAULT),
          "subject alternative names");
  }
  if (X509_sign(x.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) <= 0)
    fail("signing");
  return x;
}

std::string pem_of(X509* x, EVP_PKEY* key) {
  bio_ptr b(BIO_new(BIO_s_mem()));
  if (!b)
    fail("allocating");
  const int ok =
      x != nullptr ? PEM_write_bio_X509(b.get(), x)
                   : PEM_write_bio_PrivateKey(b.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  check(ok, "PEM encoding");
  char* data = nullptr;
  const long n = BIO_get_mem_data(b.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

// Written beside the target and renamed over it; keys are never readable by others.
void write_file(const fs::path& path, const std::string& content, bool secret) {
  const fs::path tmp = path.string() + ".tmp";
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, secret ? 0600 : 0644);
  if (fd < 0)
    throw std::runtime_error("cert dev: cannot write " + tmp.string());
  ::fchmod(fd, secret ? 0600 : 0644);
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n <= 0) {
      ::close(fd);
      throw std::runtime_error("cert dev: cannot write " + tmp.string());
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0)
    throw std::runtime_error("cert dev: cannot write " + tmp.string());
  fs::rename(tmp, path);
}

template <class T, class Read> auto read_pem(const fs::path& path, Read read) {
  bio_ptr b(BIO_new_file(path.c_str(), "r"));
  if (!b)
    fail("reading " + path.string());
  T* v = read(b.get(), nullptr, nullptr, nullptr);
  if (v == nullptr)
    fail("parsing " + path.string());
  return v;
}

} // namespace

dev_cert_result make_dev_certs(const dev_cert_request& r) {
  const fs::path dir(r.dir);
  fs::create_directories(dir);
  dev_cert_result out;

  pkey_ptr ca_key;
  x509_ptr ca;
  if (fs::exists(dir / "ca.pem") && fs::exists(dir / "ca.key")) {
    ca.reset(read_pem<X509>(dir / "ca.pem", PEM_read_bio_X509));
    ca_key.reset(read_pem<EVP_PKEY>(dir / "ca.key", PEM_read_bio_PrivateKey));
    if (X509_check_private_key(ca.get(), ca_key.get()) != 1)
      fail((dir / "ca.key").string() + " does not belong to " + (dir / "ca.pem").string());
  } else {
    ca_key = new_key();
    ca = make_cert(ca_key.get(), "thingport development CA", nullptr, nullptr, true, {});
    write_file(dir / "ca.key", pem_of(nullptr, ca_key.get()), true);
    write_file(dir / "ca.pem", pem_of(ca.get(), nullptr), false);
    out.new_ca = true;
  }

  out.names = {"localhost", "127.0.0.1", "::1"};
  out.names.insert(out.names.end(), r.hosts.begin(), r.hosts.end());
  pkey_ptr key = new_key();
  x509_ptr cert = make_cert(key.get(), "thingport development server", ca.get(), ca_key.get(),
                            false, out.names);
  // Key first: a reload between the two renames fails its key check and keeps the old pair.
  write_file(dir / "server.key", pem_of(nullptr, key.get()), true);
  write_file(dir / "server.pem", pem_of(cert.get(), nullptr), false);
  return out;
}

int cert_dev_command(const dev_cert_request& r) {
  const auto res = make_dev_certs(r);
  const fs::path dir(r.dir);
  std::printf("%s %s and %s\n", res.new_ca ? "wrote a new development CA:" : "kept the CA",
              (dir / "ca.pem").c_str(), (dir / "ca.key").c_str());
  std::string names;
  for (const auto& n : res.names)
    names += (names.empty() ? "" : ", ") + n;
  std::printf("wrote %s and %s for %s\n", (dir / "server.pem").c_str(),
              (dir / "server.key").c_str(), names.c_str());
  std::printf("serve with [tls] cert = \"server.pem\" and key = \"server.key\" (relative to "
              "data_dir); clients trust %s (e.g. mosquitto_sub --cafile %s)\n",
              (dir / "ca.pem").c_str(), (dir / "ca.pem").c_str());
  return 0;
}

} // namespace thingport::app
