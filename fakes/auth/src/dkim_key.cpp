// Deterministic DKIM key generation: the same seed gives the same key, so two runs of a
// scenario publish the same TXT record and print the same report (DESIGN.md "Deterministic").
//
// How: a byte stream SHA-256(seed ‖ label ‖ counter) drives everything.
//  - ed25519 (RFC 8463): the first 32 bytes are the private key itself (RFC 8032 §5.1.5
//    says a private key is 32 random bytes), so this is exact and instant.
//  - RSA: for each prime, take bits/2 stream bits, force the top two bits (so n has exactly
//    `bits` bits) and the low bit, then step by 2 until BN_check_prime accepts a candidate
//    with gcd(p-1, 65537) = 1. The key is assembled with EVP_PKEY_fromdata. Primality
//    tests use internal randomness but their verdict is deterministic for all practical
//    purposes (error < 2^-128), so the key is too. Keys are cached per process.
// These keys are for a sealed simulation only: a seed is not a secret.
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "mailsim/auth/dkim.hpp"

namespace mailsim::auth {
namespace {

class SeedStream {
 public:
  SeedStream(std::uint64_t seed, std::string label) : seed_(seed), label_(std::move(label)) {}
  std::vector<unsigned char> take(std::size_t n) {
    std::vector<unsigned char> out;
    while (out.size() < n) {
      if (pos_ == block_.size()) refill();
      out.push_back(block_[pos_++]);
    }
    return out;
  }

 private:
  void refill() {
    std::string input = fmt::format("mailsim-dkim-key|{}|{}|{}", seed_, label_, counter_++);
    block_.resize(SHA256_DIGEST_LENGTH);
    SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), block_.data());
    pos_ = 0;
  }
  std::uint64_t seed_;
  std::string label_;
  std::uint64_t counter_ = 0;
  std::vector<unsigned char> block_;
  std::size_t pos_ = 0;
};

struct BnFree {
  void operator()(BIGNUM* b) const { BN_clear_free(b); }
};
struct CtxFree {
  void operator()(BN_CTX* c) const { BN_CTX_free(c); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct BldFree {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

Bn bn() {
  Bn b(BN_new());
  if (!b) throw std::runtime_error("generate_dkim_key: out of memory");
  return b;
}

void check(int ok, const char* what) {
  if (ok != 1) throw std::runtime_error(fmt::format("generate_dkim_key: OpenSSL {} failed", what));
}

Bn deterministic_prime(SeedStream& stream, int bits, const BIGNUM* e, BN_CTX* ctx) {
  std::vector<unsigned char> bytes = stream.take(static_cast<std::size_t>(bits) / 8);
  bytes[0] |= 0xC0;           // top two bits: p*q then has exactly 2*bits bits
  bytes.back() |= 0x01;       // odd
  Bn p(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  Bn pm1 = bn(), g = bn();
  for (int step = 0; step < 1'000'000; ++step) {
    check(BN_copy(pm1.get(), p.get()) != nullptr ? 1 : 0, "BN_copy");
    check(BN_sub_word(pm1.get(), 1), "BN_sub_word");
    check(BN_gcd(g.get(), pm1.get(), e, ctx), "BN_gcd");
    if (BN_is_one(g.get()) && BN_check_prime(p.get(), ctx, nullptr) == 1) return p;
    check(BN_add_word(p.get(), 2), "BN_add_word");
  }
  throw std::runtime_error("generate_dkim_key: no prime found (should not happen)");
}

std::string pem_of(EVP_PKEY* key) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr),
        "PEM_write_bio_PrivateKey");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string base64(const unsigned char* data, std::size_t len) {
  std::string out(4 * ((len + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data,
                          static_cast<int>(len));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Pkey make_rsa(std::uint64_t seed, int bits) {
  if (bits < 512 || bits > 8192 || bits % 16 != 0)
    throw std::invalid_argument(fmt::format(
        "generate_dkim_key: RSA size {} is not supported (512..8192, a multiple of 16)", bits));
  std::unique_ptr<BN_CTX, CtxFree> ctx(BN_CTX_new());
  Bn e = bn();
  check(BN_set_word(e.get(), RSA_F4), "BN_set_word");
  SeedStream stream(seed, fmt::format("rsa{}", bits));
  Bn p = deterministic_prime(stream, bits / 2, e.get(), ctx.get());
  Bn q = deterministic_prime(stream, bits / 2, e.get(), ctx.get());
  if (BN_cmp(p.get(), q.get()) == 0) throw std::runtime_error("generate_dkim_key: p == q");
  if (BN_cmp(p.get(), q.get()) < 0) std::swap(p, q);  // convention: p > q
  Bn n = bn(), pm1 = bn(), qm1 = bn(), phi = bn(), d = bn(), dmp1 = bn(), dmq1 = bn(),
     iqmp = bn();
  check(BN_mul(n.get(), p.get(), q.get(), ctx.get()), "BN_mul");
  check(BN_sub(pm1.get(), p.get(), BN_value_one()), "BN_sub");
  check(BN_sub(qm1.get(), q.get(), BN_value_one()), "BN_sub");
  check(BN_mul(phi.get(), pm1.get(), qm1.get(), ctx.get()), "BN_mul");
  check(BN_mod_inverse(d.get(), e.get(), phi.get(), ctx.get()) != nullptr ? 1 : 0,
        "BN_mod_inverse");
  check(BN_mod(dmp1.get(), d.get(), pm1.get(), ctx.get()), "BN_mod");
  check(BN_mod(dmq1.get(), d.get(), qm1.get(), ctx.get()), "BN_mod");
  check(BN_mod_inverse(iqmp.get(), q.get(), p.get(), ctx.get()) != nullptr ? 1 : 0,
        "BN_mod_inverse");

  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()), "push n");
  check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()), "push e");
  check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_D, d.get()), "push d");
  check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR1, p.get()), "push p");
  check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR2, q.get()), "push q");
  check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT1, dmp1.get()), "dmp1");
  check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT2, dmq1.get()), "dmq1");
  check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_COEFFICIENT1, iqmp.get()),
        "iqmp");
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> pctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  check(EVP_PKEY_fromdata_init(pctx.get()), "EVP_PKEY_fromdata_init");
  EVP_PKEY* raw = nullptr;
  check(EVP_PKEY_fromdata(pctx.get(), &raw, EVP_PKEY_KEYPAIR, params.get()),
        "EVP_PKEY_fromdata");
  return Pkey(raw);
}

Pkey make_ed25519(std::uint64_t seed) {
  SeedStream stream(seed, "ed25519");
  std::vector<unsigned char> priv = stream.take(32);
  Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, priv.data(), priv.size()));
  if (!key) throw std::runtime_error("generate_dkim_key: OpenSSL rejected the ed25519 key");
  return key;
}

DkimKey build(std::string_view domain, std::string_view selector, std::uint64_t seed, int bits,
              std::string_view algorithm) {
  DkimKey out;
  out.domain = world::canonical_name(domain);
  out.selector = std::string(selector);
  out.algorithm = std::string(algorithm);
  if (algorithm == "ed25519-sha256") {
    Pkey key = make_ed25519(seed);
    out.private_key_pem = pem_of(key.get());
    unsigned char pub[32];
    std::size_t len = sizeof pub;
    check(EVP_PKEY_get_raw_public_key(key.get(), pub, &len), "EVP_PKEY_get_raw_public_key");
    // RFC 8463 §4: p= is the base64 of the raw 32-byte public key, k=ed25519.
    out.public_txt = "v=DKIM1; k=ed25519; p=" + base64(pub, len);
    out.bits = 256;
    return out;
  }
  if (algorithm != "rsa-sha256")
    throw std::invalid_argument(fmt::format(
        "generate_dkim_key: unknown algorithm \"{}\" (use rsa-sha256 or ed25519-sha256)",
        algorithm));
  Pkey key = make_rsa(seed, bits);
  out.private_key_pem = pem_of(key.get());
  // RFC 6376 §3.6.1: p= is the base64 of the DER SubjectPublicKeyInfo.
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key.get(), &der);
  if (len <= 0) throw std::runtime_error("generate_dkim_key: i2d_PUBKEY failed");
  out.public_txt = "v=DKIM1; k=rsa; p=" + base64(der, static_cast<std::size_t>(len));
  OPENSSL_free(der);
  out.bits = EVP_PKEY_get_bits(key.get());
  return out;
}

}  // namespace

DkimKey generate_dkim_key(std::string_view domain, std::string_view selector,
                          std::uint64_t seed, int bits, std::string_view algorithm) {
  // The prime search costs ~0.1–1 s for 2048 bits, so keys are cached per process.
  static std::mutex mutex;
  static std::map<std::tuple<std::uint64_t, int, std::string>, DkimKey> cache;
  int effective_bits = algorithm == "ed25519-sha256" ? 256 : bits;
  auto cache_key = std::make_tuple(seed, effective_bits, std::string(algorithm));
  DkimKey key;
  {
    std::lock_guard lock(mutex);
    auto it = cache.find(cache_key);
    if (it != cache.end()) key = it->second;
  }
  if (key.private_key_pem.empty()) {
    key = build(domain, selector, seed, bits, algorithm);
    std::lock_guard lock(mutex);
    cache.emplace(cache_key, key);
  }
  key.domain = world::canonical_name(domain);
  key.selector = std::string(selector);
  return key;
}

}  // namespace mailsim::auth
