// TLS as the SMTP layer reports it (RFC 3207 STARTTLS; RFC 8996 deprecates TLS 1.0/1.1).
#include "mailsim/auth/tls.hpp"

#include <fmt/format.h>

namespace mailsim::auth {

CheckResult check_tls(const TlsFacts& tls) {
  CheckResult out;
  if (!tls.used) {
    out.result = Result::fail;
    out.cause = "the message was received without STARTTLS (RFC 3207): plaintext";
    out.trace.push_back({TraceStep::Kind::step, "STARTTLS not used"});
    return out;
  }
  out.trace.push_back({TraceStep::Kind::step,
                       fmt::format("STARTTLS {} {}", tls.protocol.empty() ? "(protocol unknown)"
                                                                          : tls.protocol,
                                   tls.cipher)});
  if (tls.protocol == "TLSv1.2" || tls.protocol == "TLSv1.3") {
    out.result = Result::pass;
    out.cause = fmt::format("STARTTLS with {}", tls.protocol);
  } else if (tls.protocol.empty()) {
    out.result = Result::neutral;
    out.cause = "STARTTLS used, protocol version not reported";
  } else {
    // SSLv3, TLSv1, TLSv1.1: RFC 8996 §2-§5 forbid them.
    out.result = Result::softfail;
    out.cause = fmt::format("STARTTLS with {}, deprecated by RFC 8996 (need TLSv1.2 or later)",
                            tls.protocol);
  }
  return out;
}

}  // namespace mailsim::auth
