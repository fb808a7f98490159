// Shared by the auth benches: a bounded rate loop, and the physical limit they are
// measured against — OpenSSL's raw RSA-2048 PKCS#1 v1.5 verify of a SHA-256 digest.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace mailsim::bench {

using Clock = std::chrono::steady_clock;

// Runs `op` until `seconds` pass or `max_iterations` are done; returns operations/s.
template <typename F>
double rate(F&& op, double seconds, long max_iterations) {
  long n = 0;
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration<double>(seconds);
  while (n < max_iterations && Clock::now() < deadline) {
    op();
    ++n;
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  return n / elapsed;
}

// One RSA signature over a digest made with `private_key_pem`, verified over and over with
// a context set up once: the RSA public operation alone, no parsing, no hashing.
class OpenSslRsaVerify {
 public:
  OpenSslRsaVerify(const std::string& private_key_pem, const std::string& data) {
    BIO* bio = BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size()));
    pkey_ = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (pkey_ == nullptr) throw std::runtime_error("OpenSSL peer: cannot read the bench key");
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest_);
    EVP_PKEY_CTX* sctx = EVP_PKEY_CTX_new(pkey_, nullptr);
    EVP_PKEY_sign_init(sctx);
    EVP_PKEY_CTX_set_rsa_padding(sctx, RSA_PKCS1_PADDING);
    EVP_PKEY_CTX_set_signature_md(sctx, EVP_sha256());
    siglen_ = sizeof sig_;
    int signed_ok = EVP_PKEY_sign(sctx, sig_, &siglen_, digest_, sizeof digest_);
    EVP_PKEY_CTX_free(sctx);
    if (signed_ok != 1) throw std::runtime_error("OpenSSL peer: signing failed");
    vctx_ = EVP_PKEY_CTX_new(pkey_, nullptr);
    EVP_PKEY_verify_init(vctx_);
    EVP_PKEY_CTX_set_rsa_padding(vctx_, RSA_PKCS1_PADDING);
    EVP_PKEY_CTX_set_signature_md(vctx_, EVP_sha256());
    if (!verify()) throw std::runtime_error("OpenSSL peer: verify of a fresh signature failed");
  }
  ~OpenSslRsaVerify() {
    EVP_PKEY_CTX_free(vctx_);
    EVP_PKEY_free(pkey_);
  }
  OpenSslRsaVerify(const OpenSslRsaVerify&) = delete;
  OpenSslRsaVerify& operator=(const OpenSslRsaVerify&) = delete;

  bool verify() { return EVP_PKEY_verify(vctx_, sig_, siglen_, digest_, sizeof digest_) == 1; }

 private:
  EVP_PKEY* pkey_ = nullptr;
  EVP_PKEY_CTX* vctx_ = nullptr;
  unsigned char digest_[SHA256_DIGEST_LENGTH] = {};
  unsigned char sig_[512] = {};
  size_t siglen_ = 0;
};

}  // namespace mailsim::bench
