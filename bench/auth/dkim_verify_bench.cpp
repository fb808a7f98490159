// DKIM verifications per second (2048-bit RSA, relaxed/relaxed, key fetched through the
// in-process world resolver) beside OpenSSL's raw RSA-2048 EVP_PKEY_verify rate in the
// same run, and the ratio: how much of a DKIM check is the RSA operation and how much is
// everything around it (libopendkim setup, canonicalization, hashing, key parsing, DNS).
// Bounded: each loop stops after `seconds` or `max_iterations`, whichever comes first.
#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "mailsim/auth/dkim.hpp"
#include "mailsim/dns/resolver.hpp"
#include "mailsim/world/world.hpp"
#include "openssl_peer.hpp"

using mailsim::bench::rate;

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
  bench::OpenSslRsaVerify peer(key.private_key_pem, m.raw);

  double dkim_rate = rate(
      [&] {
        if (auth::verify_dkim(signed_m, *resolver, {.now = 1700000060}).result != auth::Result::pass)
          std::abort();
      },
      seconds, kMax);
  double rsa_rate = rate(
      [&] {
        if (!peer.verify()) std::abort();
      },
      seconds, kMax);

  std::printf("%s\n", fmt::format("message: {} bytes, rsa-sha256 2048-bit, relaxed/relaxed, "
                                  "in-process resolver; {:.1f} s per loop",
                                  signed_m.raw.size(), seconds).c_str());
  std::printf("mailsim verify_dkim (libopendkim): %10.0f verifications/s\n", dkim_rate);
  std::printf("OpenSSL EVP_PKEY_verify RSA-2048:  %10.0f verifications/s\n", rsa_rate);
  std::printf("ratio OpenSSL / mailsim:           %10.2fx (DKIM check costs %.1f RSA verifies)\n",
              rsa_rate / dkim_rate, rsa_rate / dkim_rate);
  return 0;
}
