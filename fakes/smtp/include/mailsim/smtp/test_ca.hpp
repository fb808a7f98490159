// A per-run certificate authority for STARTTLS in the sealed world (OpenSSL 3 EVP API).
// Keys are Ed25519 derived from a seed (SHA-256 of seed and name), validity and serials are
// fixed, and Ed25519 signatures are deterministic: the same seed gives byte-identical PEMs
// in every run (DESIGN.md "Deterministic: seeded keys").
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <boost/asio/ssl/context.hpp>

namespace mailsim::smtp {

struct CertifiedKey {
  std::string cert_pem;  // leaf certificate
  std::string key_pem;   // PKCS#8 private key
  std::string chain_pem; // leaf + CA
};

class TestCa {
 public:
  explicit TestCa(std::string seed = "mailsim", std::string name = "mailsim test CA");
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  const std::string& ca_cert_pem() const { return ca_.cert_pem; }
  // A certificate for `host` (SAN DNS:host, CN host; an IP literal gets SAN IP), issued by
  // this CA; cached, so the same host gets the same certificate. Thread-safe.
  CertifiedKey issue(std::string_view host);
  // A TLS server context presenting `host`'s certificate (TLS 1.2+).
  std::shared_ptr<boost::asio::ssl::context> server_context(std::string_view host);
  // A TLS client context trusting this CA (verify_peer when `verify`).
  std::shared_ptr<boost::asio::ssl::context> client_context(bool verify = true) const;

 private:
  std::string seed_;
  CertifiedKey ca_;
  std::mutex mutex_;
  std::map<std::string, CertifiedKey, std::less<>> issued_;
};

}  // namespace mailsim::smtp
