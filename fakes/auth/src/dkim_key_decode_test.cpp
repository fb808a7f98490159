// The d2i_PUBKEY_bio that dkim.cpp puts in front of libcrypto's (see there): an RSA
// SubjectPublicKeyInfo on a memory BIO parses to the same key libcrypto's decoder gives,
// the BIO is consumed past it, and everything else still fails or falls through as before.
#include <dlfcn.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "mailsim/auth/dkim.hpp"
#include "mailsim/dns/resolver.hpp"
#include "mailsim/world/world.hpp"

namespace mailsim::auth {
namespace {

std::vector<unsigned char> spki_der(const std::string& private_pem) {
  BIO* in = BIO_new_mem_buf(private_pem.data(), static_cast<int>(private_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
  BIO_free(in);
  EXPECT_NE(key, nullptr);
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  EVP_PKEY_free(key);
  std::vector<unsigned char> out(der, der + len);
  OPENSSL_free(der);
  return out;
}

EVP_PKEY* decode(const std::vector<unsigned char>& der, std::size_t* left = nullptr) {
  BIO* bio = BIO_new_mem_buf(der.data(), static_cast<int>(der.size()));
  EVP_PKEY* key = d2i_PUBKEY_bio(bio, nullptr);
  if (left != nullptr) *left = static_cast<std::size_t>(BIO_pending(bio));
  BIO_free(bio);
  return key;
}

TEST(DkimKeyDecode, OursIsTheDefinitionLibopendkimBindsTo) {
  Dl_info info{};
  ASSERT_NE(dladdr(reinterpret_cast<void*>(&d2i_PUBKEY_bio), &info), 0);
  ASSERT_NE(info.dli_fname, nullptr);
  EXPECT_EQ(std::string(info.dli_fname).find("libcrypto"), std::string::npos) << info.dli_fname;
  EXPECT_EQ(dlsym(RTLD_DEFAULT, "d2i_PUBKEY_bio"), reinterpret_cast<void*>(&d2i_PUBKEY_bio));
}

TEST(DkimKeyDecode, RsaKeyParsesToTheSameKeyAndConsumesTheBio) {
  DkimKey k = generate_dkim_key("example.com", "s", 7, 2048);
  std::vector<unsigned char> der = spki_der(k.private_key_pem);
  der.push_back(0x42);  // a trailing byte stays in the BIO, as with ASN1_d2i_bio
  std::size_t left = 0;
  EVP_PKEY* ours = decode(der, &left);
  ASSERT_NE(ours, nullptr);
  EXPECT_EQ(left, 1u);
  EXPECT_EQ(EVP_PKEY_get_id(ours), EVP_PKEY_RSA);
  EXPECT_EQ(EVP_PKEY_get_bits(ours), 2048);
  // Same key as OpenSSL's generic decoder reads from the same bytes.
  const unsigned char* p = der.data();
  EVP_PKEY* reference = d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()));
  ASSERT_NE(reference, nullptr);
  EXPECT_EQ(EVP_PKEY_eq(ours, reference), 1);
  EVP_PKEY_free(reference);
  EVP_PKEY_free(ours);
}

TEST(DkimKeyDecode, MalformedKeysAreStillRejected) {
  DkimKey k = generate_dkim_key("example.com", "s", 7, 2048);
  std::vector<unsigned char> der = spki_der(k.private_key_pem);
  std::vector<unsigned char> cut(der.begin(), der.begin() + der.size() / 2);
  EXPECT_EQ(decode(cut), nullptr);
  std::vector<unsigned char> flipped = der;
  flipped[0] = 0x31;  // SET, not SEQUENCE
  EXPECT_EQ(decode(flipped), nullptr);
  EXPECT_EQ(decode({0x30, 0x00}), nullptr);
}

TEST(DkimKeyDecode, Ed25519FallsThroughToLibcrypto) {
  DkimKey k = generate_dkim_key("example.com", "s", 7, 0, "ed25519-sha256");
  EVP_PKEY* key = decode(spki_der(k.private_key_pem));
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(EVP_PKEY_get_id(key), EVP_PKEY_ED25519);
  EVP_PKEY_free(key);
}

TEST(DkimKeyDecode, BarePkcs1KeyIsRewrappedAndVerifies) {
  // p= holding a PKCS#1 RSAPublicKey instead of an SPKI (RFC 6376 §3.6.1) is accepted, as
  // dkimpy and Stalwart do, and the trace says so; an SPKI record gets no such line.
  DkimKey k = generate_dkim_key("nodeseek.com", "mail", 7, 2048);
  BIO* in = BIO_new_mem_buf(k.private_key_pem.data(), static_cast<int>(k.private_key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
  BIO_free(in);
  ASSERT_NE(key, nullptr);
  unsigned char* der = nullptr;
  int len = i2d_PublicKey(key, &der);  // RSAPublicKey for an RSA key (RFC 8017 §A.1.1)
  EVP_PKEY_free(key);
  ASSERT_GT(len, 0);
  std::string b64(4 * ((static_cast<std::size_t>(len) + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), der, len);
  OPENSSL_free(der);
  b64.resize(static_cast<std::size_t>(n));
  ASSERT_EQ(b64.rfind("MIIBCgKCAQEA", 0), 0u) << "SEQUENCE { INTEGER ... }: " << b64;

  Message plain = Message::parse(
      "From: a@nodeseek.com\r\nTo: b@gmail.com\r\nSubject: s\r\n\r\nbody\r\n");
  Message m = Message::parse(sign_dkim(plain, k, {.now = 1700000000}) + plain.raw);
  for (bool pkcs1 : {true, false}) {
    world::World w;
    w.add_zone("nodeseek.com");
    w.add(world::make_txt("mail._domainkey.nodeseek.com",
                          pkcs1 ? "v=DKIM1; k=rsa; p=" + b64 : k.public_txt));
    auto resolver = dns::make_world_resolver(w);
    DkimResult r = verify_dkim(m, *resolver, {.now = 1700000060});
    EXPECT_EQ(r.result, Result::pass) << r.cause;
    bool noted = std::any_of(r.trace.begin(), r.trace.end(), [](const TraceStep& s) {
      return s.text.find("bare PKCS#1 RSAPublicKey") != std::string::npos;
    });
    EXPECT_EQ(noted, pkcs1);
  }
}

}  // namespace
}  // namespace mailsim::auth
