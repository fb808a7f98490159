// The shape every check returns: an RFC-vocabulary result, its cause, and a trace.
// Checks never reject; personas decide (../shared/STYLE.md).
#pragma once

#include <string>
#include <string_view>
#include <vector>

// resolver.hpp names world::World without including it; include it first so this header
// stands alone.
#include "mailsim/world/world.hpp"
#include "mailsim/dns/resolver.hpp"

namespace mailsim::auth {

// RFC 7208 §2.6 / RFC 8601 §2.7 result vocabulary, shared by every check.
enum class Result { pass, fail, softfail, neutral, none, temperror, permerror, policy };
std::string_view to_string(Result result);

// One step of an evaluation: a DNS query with its answer, or a mechanism/decision.
struct TraceStep {
  enum class Kind { query, step };
  Kind kind = Kind::step;
  std::string text;  // "TXT nodeseek.com → \"v=spf1 a mx -all\"" or "mechanism a → no match"
  bool operator==(const TraceStep&) const = default;
};
using Trace = std::vector<TraceStep>;

struct CheckResult {
  Result result = Result::none;
  std::string cause;  // one plain sentence: why this result
  Trace trace;
  bool is(Result r) const { return result == r; }
};

// The one audited place where DNS failures become check results (STYLE.md point 4):
// SERVFAIL/timeout → temperror (RFC 7208 §2.6.6, RFC 6376 §6.1.2, RFC 7489 §6.6.3);
// FORMERR/REFUSED → permerror for policy records of the domain under evaluation,
// NXDOMAIN/NODATA → none (no record). Returns `pass` for an ok answer (caller goes on).
Result dns_status_to_result(dns::DnsStatus status);

// A Resolver that forwards to another and appends each query and answer to a trace.
class TracingResolver : public dns::Resolver {
 public:
  TracingResolver(dns::Resolver& inner, Trace& trace) : inner_(inner), trace_(trace) {}
  dns::Answer query(std::string_view name, dns::RrType type) override;
  int queries() const { return queries_; }

 private:
  dns::Resolver& inner_;
  Trace& trace_;
  int queries_ = 0;
};

}  // namespace mailsim::auth
