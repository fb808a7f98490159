// DKIM verifications per second (2048-bit RSA, relaxed/relaxed, key fetched through the
// in-process world resolver) beside OpenSSL's raw RSA-2048 EVP_PKEY_verify rate in the
// same run, and the ratio: how much of a DKIM check is the RSA operation and how much is
// everything around it (libopendkim setup, canonicalization, hashing, key parsing, DNS).
// Bounded: each loop stops after `seconds` or `max_iterations`, whichever comes first.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "mailsim/auth/dkim.hpp"
#include "mailsim/dns/resolver.hpp"
#include "mailsim/world/world.hpp"

namespace {

using Clock = std::chrono::steady_clock;

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

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  const long kMax = 1'000'000;
  using namespace mailsim;

  auth::DkimKey key = auth::generate_dkim_key("nodeseek.com", "mail", 42, 2048);
  world::World w;
  w.add_zone("nodeseek.com");
  w.add(world::make_txt("mail._domainkey.nodeseek.com", key.public_txt));
  auto resolver = dns::make_world_resolver(w);
  std::string body;
  for (int i = 0; i < 40; ++i) body += "A line of an ordinary plain-text message body.\r\n";
  auth::Message m = auth::Message::parse(
      "From: hello@nodeseek.com\r\nTo: someone@gmail.com\r\nSubject: bench\r\n"
      "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\nMessage-ID: <b@nodeseek.com>\r\n\r\n" + body);
  std::string header = auth::sign_dkim(m, key, {.now = 1700000000});
  auth::Message signed_m = auth::Message::parse(header + m.raw);
  if (auth::verify_dkim(signed_m, *resolver, {.now = 1700000060}).result != auth::Result::pass) {
    std::fprintf(stderr, "bench setup: the signed message does not verify\n");
    return 1;
  }

  // Peer: OpenSSL's RSA-2048 PKCS#1 v1.5 verify of a SHA-256 digest, the same key.
  BIO* bio = BIO_new_mem_buf(key.private_key_pem.data(), static_cast<int>(key.private_key_pem.size()));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (pkey == nullptr) throw std::runtime_error("cannot read the bench key");
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(m.raw.data()), m.raw.size(), digest);
  EVP_PKEY_CTX* sctx = EVP_PKEY_CTX_new(pkey, nullptr);
  EVP_PKEY_sign_init(sctx);
  EVP_PKEY_CTX_set_rsa_padding(sctx, RSA_PKCS1_PADDING);
  EVP_PKEY_CTX_set_signature_md(sctx, EVP_sha256());
  unsigned char sig[512];
  size_t siglen = sizeof sig;
  EVP_PKEY_sign(sctx, sig, &siglen, digest, sizeof digest);
  EVP_PKEY_CTX_free(sctx);
  EVP_PKEY_CTX* vctx = EVP_PKEY_CTX_new(pkey, nullptr);
  EVP_PKEY_verify_init(vctx);
  EVP_PKEY_CTX_set_rsa_padding(vctx, RSA_PKCS1_PADDING);
  EVP_PKEY_CTX_set_signature_md(vctx, EVP_sha256());
  if (EVP_PKEY_verify(vctx, sig, siglen, digest, sizeof digest) != 1) {
    std::fprintf(stderr, "bench setup: OpenSSL verify failed\n");
    return 1;
  }

  double dkim_rate = rate(
      [&] {
        if (auth::verify_dkim(signed_m, *resolver, {.now = 1700000060}).result != auth::Result::pass)
          std::abort();
      },
      seconds, kMax);
  double rsa_rate = rate(
      [&] {
        if (EVP_PKEY_verify(vctx, sig, siglen, digest, sizeof digest) != 1) std::abort();
      },
      seconds, kMax);
  EVP_PKEY_CTX_free(vctx);
  EVP_PKEY_free(pkey);

  std::printf("%s\n", fmt::format("message: {} bytes, rsa-sha256 2048-bit, relaxed/relaxed, "
                                  "in-process resolver; {:.1f} s per loop",
                                  signed_m.raw.size(), seconds).c_str());
  std::printf("mailsim verify_dkim (libopendkim): %10.0f verifications/s\n", dkim_rate);
  std::printf("OpenSSL EVP_PKEY_verify RSA-2048:  %10.0f verifications/s\n", rsa_rate);
  std::printf("ratio OpenSSL / mailsim:           %10.2fx (DKIM check costs %.1f RSA verifies)\n",
              rsa_rate / dkim_rate, rsa_rate / dkim_rate);
  return 0;
}
