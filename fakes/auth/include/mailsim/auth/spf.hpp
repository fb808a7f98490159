// SPF (RFC 7208) with libspf2, its DNS going through our Resolver.
#pragma once

#include "mailsim/auth/facts.hpp"
#include "mailsim/auth/result.hpp"

namespace mailsim::auth {

struct SpfResult : CheckResult {
  std::string identity;     // "mailfrom" or "helo" (RFC 7208 §2.3, §2.4)
  std::string domain;       // the domain whose record was evaluated
  std::string record;       // the SPF record text as evaluated ("" if none)
  std::string mechanism;    // the mechanism that matched, e.g. "-all", "a"
  int dns_lookups = 0;      // terms that cost a DNS lookup (limit 10, RFC 7208 §4.6.4)
  int void_lookups = 0;     // lookups that returned no records (limit 2)
};

// check_host() for the MAIL FROM identity; a null reverse-path uses the HELO identity
// (RFC 7208 §2.4). `mail_from` is an address ("user@domain") or "".
SpfResult check_spf_mailfrom(const std::string& client_ip, const std::string& helo,
                             const std::string& mail_from, dns::Resolver& resolver);
// check_host() for the HELO identity (RFC 7208 §2.3).
SpfResult check_spf_helo(const std::string& client_ip, const std::string& helo,
                         dns::Resolver& resolver);

}  // namespace mailsim::auth
