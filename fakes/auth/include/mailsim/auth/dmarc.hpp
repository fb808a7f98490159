// DMARC (RFC 7489): record discovery, policy and identifier alignment.
#pragma once

#include <optional>
#include <string>

#include "mailsim/auth/dkim.hpp"
#include "mailsim/auth/result.hpp"
#include "mailsim/auth/spf.hpp"

namespace mailsim::auth {

// Organizational domain from the public suffix list (RFC 7489 §3.2), loaded from
// Debian's publicsuffix package (/usr/share/publicsuffix).
std::string organizational_domain(std::string_view domain);

struct DmarcRecord {
  std::string p;            // none | quarantine | reject
  std::string sp;           // "" if absent
  int pct = 100;
  bool adkim_strict = false;
  bool aspf_strict = false;
  std::string rua, ruf;
  std::string raw;
};

struct DmarcResult : CheckResult {
  std::string from_domain;       // RFC5322.From domain
  std::string record_domain;     // where the record was found (_dmarc.<d> or org domain)
  std::optional<DmarcRecord> record;
  std::string policy;            // the policy that applies: none/quarantine/reject ("" none)
  bool spf_aligned = false;      // which results were used (maddy's EvaluateAlignment)
  bool dkim_aligned = false;
  std::string spf_domain_used;   // the SPF-authenticated domain considered
  std::string dkim_domain_used;  // the d= that aligned, if any
};

DmarcResult check_dmarc(const Message& message, const SpfResult& spf, const DkimResult& dkim,
                        dns::Resolver& resolver);

}  // namespace mailsim::auth
