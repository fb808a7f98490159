// TLS facts handed in by the SMTP layer, judged (RFC 3207, RFC 8996 deprecates < TLS 1.2).
#pragma once

#include "mailsim/auth/facts.hpp"
#include "mailsim/auth/result.hpp"

namespace mailsim::auth {

// pass: STARTTLS used with TLS ≥ 1.2; fail: not used; softfail: old protocol.
CheckResult check_tls(const TlsFacts& tls);

}  // namespace mailsim::auth
