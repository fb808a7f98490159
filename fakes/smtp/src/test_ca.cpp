#include "mailsim/smtp/test_ca.hpp"

#include <array>
#include <stdexcept>

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace mailsim::smtp {

namespace {

[[noreturn]] void openssl_fail(std::string_view what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  throw std::runtime_error(fmt::format("test CA: {} failed: {}", what, buf));
}

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

std::array<unsigned char, 32> sha256(std::string_view data) {
  std::array<unsigned char, 32> out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1)
    openssl_fail("SHA-256");
  return out;
}

// Ed25519 private keys are any 32 bytes: derive them from the seed so runs repeat exactly.
PkeyPtr derive_key(std::string_view seed, std::string_view name) {
  auto raw = sha256(fmt::format("mailsim-test-ca-key\n{}\n{}", seed, name));
  PkeyPtr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, raw.data(), raw.size()));
  if (!key) openssl_fail("Ed25519 key from seed");
  return key;
}

void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) openssl_fail(fmt::format("extension {}={}", OBJ_nid2sn(nid), value));
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

std::string pem_of(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(bio.get(), cert) != 1) openssl_fail("PEM_write_bio_X509");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string pem_of(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    openssl_fail("PEM_write_bio_PrivateKey");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

X509Ptr read_cert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) openssl_fail("PEM_read_bio_X509");
  return cert;
}

// Builds one certificate. Fixed validity (2024-01-01 … 2049-12-31) and a serial from the
// seed keep the bytes the same from run to run.
X509Ptr make_cert(std::string_view seed, std::string_view cn, EVP_PKEY* subject_key,
                  X509* issuer, EVP_PKEY* issuer_key, bool ca, std::string_view host) {
  X509Ptr cert(X509_new());
  if (!cert) openssl_fail("X509_new");
  X509_set_version(cert.get(), 2);  // v3
  auto serial_bytes = sha256(fmt::format("serial\n{}\n{}", seed, cn));
  serial_bytes[0] &= 0x7f;  // positive (RFC 5280 §4.1.2.2)
  BIGNUM* bn = BN_bin2bn(serial_bytes.data(), 16, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  ASN1_TIME_set_string(X509_getm_notBefore(cert.get()), "20240101000000Z");
  ASN1_TIME_set_string(X509_getm_notAfter(cert.get()), "20491231235959Z");
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("mailsim"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(std::string(cn).c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  if (X509_set_pubkey(cert.get(), subject_key) != 1) openssl_fail("X509_set_pubkey");
  X509* signer = issuer ? issuer : cert.get();
  if (ca) {
    add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(cert.get(), signer, NID_subject_key_identifier, "hash");
  } else {
    add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(cert.get(), signer, NID_key_usage, "critical,digitalSignature");
    add_ext(cert.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth");
    boost::system::error_code ec;
    boost::asio::ip::make_address(std::string(host), ec);
    add_ext(cert.get(), signer, NID_subject_alt_name,
            fmt::format("{}:{}", ec ? "DNS" : "IP", host));
    add_ext(cert.get(), signer, NID_subject_key_identifier, "hash");
    add_ext(cert.get(), signer, NID_authority_key_identifier, "keyid");
  }
  // Ed25519 signs without a separate digest (RFC 8410): md must be null.
  if (X509_sign(cert.get(), issuer_key, nullptr) <= 0) openssl_fail("X509_sign");
  return cert;
}

}  // namespace

TestCa::TestCa(std::string seed, std::string name) : seed_(std::move(seed)) {
  PkeyPtr key = derive_key(seed_, "CA " + name);
  X509Ptr cert = make_cert(seed_, name, key.get(), nullptr, key.get(), true, {});
  ca_.cert_pem = pem_of(cert.get());
  ca_.key_pem = pem_of(key.get());
  ca_.chain_pem = ca_.cert_pem;
}

TestCa::~TestCa() = default;

CertifiedKey TestCa::issue(std::string_view host) {
  std::lock_guard lock(mutex_);
  if (auto it = issued_.find(host); it != issued_.end()) return it->second;
  if (host.empty()) throw std::invalid_argument("test CA: cannot issue for an empty host name");
  BioPtr bio(BIO_new_mem_buf(ca_.key_pem.data(), static_cast<int>(ca_.key_pem.size())));
  PkeyPtr ca_key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!ca_key) openssl_fail("reading the CA key");
  X509Ptr ca_cert = read_cert(ca_.cert_pem);
  PkeyPtr key = derive_key(seed_, host);
  X509Ptr cert = make_cert(seed_, host, key.get(), ca_cert.get(), ca_key.get(), false, host);
  CertifiedKey out;
  out.cert_pem = pem_of(cert.get());
  out.key_pem = pem_of(key.get());
  out.chain_pem = out.cert_pem + ca_.cert_pem;
  issued_.emplace(std::string(host), out);
  return out;
}

std::shared_ptr<boost::asio::ssl::context> TestCa::server_context(std::string_view host) {
  namespace ssl = boost::asio::ssl;
  CertifiedKey ck = issue(host);
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  // RFC 8996: TLS 1.0/1.1 are deprecated; offer 1.2 and 1.3.
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  ctx->use_certificate_chain(boost::asio::buffer(ck.chain_pem));
  ctx->use_private_key(boost::asio::buffer(ck.key_pem), ssl::context::pem);
  return ctx;
}

std::shared_ptr<boost::asio::ssl::context> TestCa::client_context(bool verify) const {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3);
  ctx->add_certificate_authority(boost::asio::buffer(ca_.cert_pem));
  ctx->set_verify_mode(verify ? ssl::verify_peer : ssl::verify_none);
  return ctx;
}

}  // namespace mailsim::smtp
