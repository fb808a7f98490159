// All checks of one message, as a receiver runs them; and the Authentication-Results header.
#pragma once

#include <optional>

#include "mailsim/auth/content.hpp"
#include "mailsim/auth/dkim.hpp"
#include "mailsim/auth/dmarc.hpp"
#include "mailsim/auth/dnsbl.hpp"
#include "mailsim/auth/helo.hpp"
#include "mailsim/auth/iprev.hpp"
#include "mailsim/auth/mx.hpp"
#include "mailsim/auth/spf.hpp"
#include "mailsim/auth/tls.hpp"

namespace mailsim::auth {

// Results filled stage by stage: connection (iprev, dnsbl), HELO (helo, spf_helo),
// MAIL (spf), end of DATA (dkim, dmarc, content). Absent = not run (yet).
struct CheckSet {
  std::optional<IprevResult> iprev;
  std::optional<DnsblResult> dnsbl;
  std::optional<HeloResult> helo;
  std::optional<SpfResult> spf_helo;
  std::optional<SpfResult> spf;
  std::optional<CheckResult> tls;
  std::optional<DkimResult> dkim;
  std::optional<DmarcResult> dmarc;
  std::optional<ContentResult> content;
  // End of DATA: can the RFC5322.From domain receive mail (MX / implicit MX, RFC 5321 §5.1)?
  std::optional<MxResult> mx;
};

// RFC 8601 Authentication-Results field ("Authentication-Results: mx.google.com; spf=pass
// smtp.mailfrom=… ; dkim=pass header.d=… ; dmarc=pass header.from=… ; iprev=pass …"),
// without the trailing CRLF.
std::string authentication_results(const std::string& authserv_id, const CheckSet& checks,
                                   const Connection& connection, const Envelope& envelope);

}  // namespace mailsim::auth
