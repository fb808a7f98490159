// DKIM (RFC 6376, RFC 8463) verify and sign with libopendkim, key lookups through Resolver.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mailsim/auth/facts.hpp"
#include "mailsim/auth/result.hpp"

namespace mailsim::auth {

struct DkimSignatureResult : CheckResult {
  std::string domain;     // d=
  std::string selector;   // s=
  std::string algorithm;  // "rsa-sha256", "ed25519-sha256"
  int key_bits = 0;       // RSA modulus size; 256 for ed25519; 0 if no key
  bool body_hash_ok = false;
  // b= as written, whitespace removed; Authentication-Results shows a prefix of it as
  // header.b to tell signatures apart (RFC 6008 §4). "" when not known.
  std::string signature_b;
};

struct DkimResult : CheckResult {
  // One entry per DKIM-Signature header, in message order. `result` of the whole is the
  // best of them (pass if any passes), as receivers report (RFC 6376 §6.1).
  std::vector<DkimSignatureResult> signatures;
  // Domains (d=) with a passing signature, for DMARC alignment.
  std::vector<std::string> passing_domains() const;
};

struct DkimVerifyOptions {
  // Seconds since the epoch used as "now" for x= expiry (injected clock); nullopt = real time.
  std::optional<std::int64_t> now;
  int min_rsa_bits = 0;  // 0 = accept any size libopendkim accepts
};

DkimResult verify_dkim(const Message& message, dns::Resolver& resolver,
                       const DkimVerifyOptions& options = {});

struct DkimKey {
  std::string domain;
  std::string selector;
  std::string algorithm = "rsa-sha256";  // or "ed25519-sha256"
  std::string private_key_pem;           // PKCS#8/PKCS#1 PEM (RSA) or PEM (ed25519)
  // The TXT value to publish at <selector>._domainkey.<domain>: "v=DKIM1; k=rsa; p=…"
  std::string public_txt;
  int bits = 0;
};

// Generates a key deterministically from `seed` (the same seed gives the same key, so two
// runs print the same report). RSA of `bits` bits, or ed25519 when algorithm says so.
DkimKey generate_dkim_key(std::string_view domain, std::string_view selector,
                          std::uint64_t seed, int bits = 2048,
                          std::string_view algorithm = "rsa-sha256");

struct DkimSignOptions {
  std::vector<std::string> headers = {"from", "to", "subject", "date", "message-id"};
  std::optional<std::int64_t> now;  // t= (injected clock)
};

// Returns the complete "DKIM-Signature: …" header field (folded, CRLF-terminated) for
// the message, relaxed/relaxed canonicalization.
std::string sign_dkim(const Message& message, const DkimKey& key,
                      const DkimSignOptions& options = {});

}  // namespace mailsim::auth
