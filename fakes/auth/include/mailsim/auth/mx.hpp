// Can a domain receive mail? The MX lookup of RFC 5321 §5.1 (with the implicit MX of the
// A/AAAA fallback), and whether one of the exchanges' addresses can carry SMTP at all.
// mail-tester.com's "we did not find a mail server" finding (providers.md) is modelled on it.
#pragma once

#include <string_view>

#include "mailsim/auth/result.hpp"

namespace mailsim::auth {

struct MxHost {
  std::string name;            // the exchange (canonical, no trailing dot)
  int preference = 0;          // RFC 1035 §3.3.9; 0 for the implicit MX
  std::vector<std::string> addresses;  // its A, then AAAA, as far as they were looked up
  bool operator==(const MxHost&) const = default;
};

// result:
//   pass      — an exchange (or the implicit MX) has an address outside the published proxy
//               ranges, i.e. one a sender could open port 25 on;
//   fail      — the domain does not exist, has no MX and no A/AAAA, publishes a null MX
//               (RFC 7505), or every exchange resolves only into a Cloudflare proxy range
//               (Cloudflare proxies HTTP(S) only; port 25 is not proxied — providers.md);
//   temperror — a lookup failed temporarily and nothing usable was found;
//   permerror — the domain is not an acceptable name, or its MX lookup was refused.
struct MxResult : CheckResult {
  std::string domain;
  bool implicit_mx = false;  // no MX records: the domain itself is the exchange (§5.1)
  bool null_mx = false;      // "MX 0 ." (RFC 7505 §3)
  std::vector<MxHost> hosts; // in preference order, as far as they were looked up
  std::string usable_host;   // the exchange whose address can receive SMTP ("" unless pass)
  std::string usable_address;
};

MxResult check_mx(const std::string& domain, dns::Resolver& resolver);

// True when `address` (IPv4 or IPv6 text) lies in one of Cloudflare's published proxy
// ranges that providers.md lists: 104.16.0.0/13, 104.24.0.0/14, 172.64.0.0/13,
// 173.245.48.0/20, 162.158.0.0/15, 188.114.96.0/20, 2606:4700::/32.
bool is_cloudflare_proxy(std::string_view address);

}  // namespace mailsim::auth
