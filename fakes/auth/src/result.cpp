// Result vocabulary, the one DNS-error mapping, and the tracing resolver.
#include "mailsim/auth/result.hpp"

#include <fmt/format.h>

namespace mailsim::auth {

std::string_view to_string(Result result) {
  // Spelled as RFC 8601 §2.7 registers them, so they go into Authentication-Results as-is.
  switch (result) {
    case Result::pass: return "pass";
    case Result::fail: return "fail";
    case Result::softfail: return "softfail";
    case Result::neutral: return "neutral";
    case Result::none: return "none";
    case Result::temperror: return "temperror";
    case Result::permerror: return "permerror";
    case Result::policy: return "policy";
  }
  return "unknown";
}

Result dns_status_to_result(dns::DnsStatus status) {
  using dns::DnsStatus;
  switch (status) {
    case DnsStatus::ok:
      // An answer with records: the caller goes on evaluating them.
      return Result::pass;
    case DnsStatus::nxdomain:
    case DnsStatus::nodata:
      // No record published. RFC 7208 §4.3: a domain with no SPF record yields "none";
      // RFC 7489 §6.6.3: no DMARC record at the From or organizational domain → none;
      // RFC 6376 §6.1.2: a key query answering NXDOMAIN is a permanent failure of that
      // signature, which the DKIM code decides itself (it knows a key was expected).
      return Result::none;
    case DnsStatus::servfail:
    case DnsStatus::timeout:
      // RFC 7208 §2.6.6: "a transient (generally DNS) error while performing the check"
      // → temperror. RFC 6376 §6.1.2: key retrieval failing for a transient reason →
      // TEMPFAIL. RFC 7489 §6.6.3: a DNS error on the DMARC query → temperror.
      return Result::temperror;
    case DnsStatus::refused:
    case DnsStatus::formerr:
      // The server will never answer this query (REFUSED: outside the sealed world;
      // FORMERR: malformed). Retrying does not help, so it is permanent: RFC 7208 §2.6.7
      // and RFC 6376 §6.1.2 (key record unusable) → permerror.
      return Result::permerror;
  }
  return Result::permerror;
}

dns::Answer TracingResolver::query(std::string_view name, dns::RrType type) {
  dns::Answer answer = inner_.query(name, type);
  ++queries_;
  // "{type} {name} → {summary}", built in one buffer with the summary appended straight
  // into it (this runs for every query of every check). The reserve covers the usual
  // answer so that the line is allocated once.
  const std::string_view type_name = world::to_string(type);
  constexpr std::string_view kArrow = " → ";
  std::size_t expected = type_name.size() + 1 + name.size() + kArrow.size() + 16;
  for (const auto& r : answer.records) {
    expected += 10 + r.value.size();
    for (const auto& s : r.strings) expected += s.size() + 3;
  }
  std::string text;
  text.reserve(expected);
  text.append(type_name).append(" ").append(name).append(kArrow);
  answer.append_summary(text);
  trace_.push_back(TraceStep{TraceStep::Kind::query, std::move(text)});
  return answer;
}

}  // namespace mailsim::auth
