// DNS block lists (RFC 5782): query <reversed-ip>.<zone> A, and TXT for the reason.
#pragma once

#include "mailsim/auth/result.hpp"

namespace mailsim::auth {

struct DnsblListing {
  std::string zone;         // "zen.spamhaus.org"
  std::string return_code;  // "127.0.0.2"
  std::string list;         // "SBL", "XBL", "PBL" for Spamhaus codes, else ""
  std::string reason;       // the TXT record, if any
};

// `result` is fail when listed on any zone (RFC 8601 uses "dnsbl" only informally; we use
// pass = not listed, fail = listed, temperror = lookup failed).
struct DnsblResult : CheckResult {
  std::vector<DnsblListing> listings;
};

DnsblResult check_dnsbl(const std::string& client_ip, const std::vector<std::string>& zones,
                        dns::Resolver& resolver);

}  // namespace mailsim::auth
