// HELO/EHLO sanity (RFC 5321 §4.1.1.1, §2.3.5): an FQDN that resolves to the client.
#pragma once

#include "mailsim/auth/result.hpp"

namespace mailsim::auth {

struct HeloResult : CheckResult {
  bool fqdn = false;            // has a dot and a valid label syntax
  bool bare_ip = false;         // "12.34.56.78" or "[12.34.56.78]" literal
  bool localhost = false;       // "localhost" or "localhost.localdomain"
  bool resolves = false;        // has A/AAAA
  bool matches_client = false;  // one of its addresses is the client's
  bool matches_ptr = false;     // equals the client's PTR name
};

HeloResult check_helo(const std::string& helo, const std::string& client_ip,
                      dns::Resolver& resolver);

}  // namespace mailsim::auth
