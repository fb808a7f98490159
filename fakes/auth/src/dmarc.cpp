// DMARC (RFC 7489): policy discovery (§6.6.3), record parsing (§6.3), identifier alignment
// (§3.1). Our own small evaluator rather than libopendmarc, whose lookups go through the
// system resolver (res_query) and would leave the sealed world; see psl.hpp.
#include "mailsim/auth/dmarc.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <unordered_map>

#include "ascii.hpp"
#include "mailsim/auth/psl.hpp"

namespace mailsim::auth {
namespace {

using ascii::lower;
using ascii::trim;

bool valid_policy(std::string_view p) {
  return p == "none" || p == "quarantine" || p == "reject";
}

// §6.3: tag-value pairs separated by ";". Returns nullopt with `why` set when the record
// must be discarded; unknown tags are ignored, bad optional values fall back to defaults.
std::optional<DmarcRecord> parse_record(std::string_view text, std::string& why, Trace& trace) {
  DmarcRecord record;
  record.raw = std::string(text);
  bool first = true, have_p = false, bad_p = false;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t semi = text.find(';', start);
    std::string_view part =
        trim(text.substr(start, semi == std::string_view::npos ? std::string_view::npos
                                                               : semi - start));
    start = semi == std::string_view::npos ? text.size() + 1 : semi + 1;
    if (part.empty()) continue;
    std::size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      if (first) {
        why = "the record does not start with v=DMARC1";
        return std::nullopt;
      }
      trace.push_back({TraceStep::Kind::step, fmt::format("ignored malformed term \"{}\"", part)});
      continue;
    }
    std::string tag = lower(trim(part.substr(0, eq)));
    std::string_view value = trim(part.substr(eq + 1));
    if (first) {
      // §6.3 v: "MUST be the first tag"; the value is case-sensitive "DMARC1".
      if (tag != "v" || value != "DMARC1") {
        why = "the record does not start with v=DMARC1";
        return std::nullopt;
      }
      first = false;
      continue;
    }
    if (tag == "p") {
      std::string v = lower(value);
      if (valid_policy(v)) {
        record.p = v;
        have_p = true;
      } else {
        bad_p = true;
      }
    } else if (tag == "sp") {
      std::string v = lower(value);
      if (valid_policy(v)) record.sp = v;
      else trace.push_back({TraceStep::Kind::step, fmt::format("ignored invalid sp={}", value)});
    } else if (tag == "pct") {
      int pct = -1;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), pct);
      if (ec == std::errc() && ptr == value.data() + value.size() && pct >= 0 && pct <= 100) {
        record.pct = pct;
      } else {
        trace.push_back({TraceStep::Kind::step, fmt::format("ignored invalid pct={}", value)});
      }
    } else if (tag == "adkim" || tag == "aspf") {
      std::string v = lower(value);
      bool strict = v == "s";
      if (v != "s" && v != "r")
        trace.push_back({TraceStep::Kind::step, fmt::format("ignored invalid {}={}", tag, value)});
      (tag == "adkim" ? record.adkim_strict : record.aspf_strict) = strict;
    } else if (tag == "rua") {
      record.rua = std::string(value);
    } else if (tag == "ruf") {
      record.ruf = std::string(value);
    }
    // Other tags (fo, rf, ri, unknown ones): "Unknown tags MUST be ignored" (§6.3).
  }
  if (first) {
    why = "the record is empty";
    return std::nullopt;
  }
  if (!have_p) {
    // §6.6.3 step 6 / §6.3 p: a record without a valid p= but with a valid rua is treated
    // as p=none; otherwise it is discarded.
    if (!record.rua.empty()) {
      record.p = "none";
      trace.push_back({TraceStep::Kind::step,
                       bad_p ? "invalid p= with rua present: treated as p=none (RFC 7489 §6.6.3)"
                             : "no p= with rua present: treated as p=none (RFC 7489 §6.6.3)"});
    } else {
      why = bad_p ? "the record's p= is not none, quarantine or reject"
                  : "the record has no p= tag";
      return std::nullopt;
    }
  }
  return record;
}

enum class Lookup { found, absent, multiple, error };

struct Discovery {
  Lookup outcome = Lookup::absent;
  std::optional<DmarcRecord> record;
  Result error = Result::none;
  std::string error_text;
};

// One step of §6.6.3: query _dmarc.<domain>, keep records starting with "v=DMARC1".
Discovery discover(const std::string& domain, TracingResolver& resolver, Trace& trace) {
  Discovery d;
  dns::Answer answer = resolver.query("_dmarc." + domain, dns::RrType::TXT);
  if (!answer.ok()) {
    Result r = dns_status_to_result(answer.status);
    if (r == Result::none) return d;
    d.outcome = Lookup::error;
    d.error = r;
    d.error_text = fmt::format("DNS {} on _dmarc.{}", dns::to_string(answer.status), domain);
    return d;
  }
  std::vector<std::string> candidates;
  for (const dns::Record& rec : answer.records) {
    if (rec.type != dns::RrType::TXT) continue;  // the CNAME chain, if any
    std::string text = rec.text();
    // Step 2: "Records that do not start with a v= tag that identifies the current version
    // of DMARC are discarded."
    std::string_view t = trim(text);
    std::string head = lower(t.substr(0, std::min<std::size_t>(t.size(), 12)));
    head.erase(std::remove_if(head.begin(), head.end(),
                              [](char c) { return ascii::is_space(c); }),
               head.end());
    if (head.starts_with("v=dmarc1")) candidates.push_back(std::move(text));
  }
  if (candidates.size() > 1) {
    // Step 5: "If the remaining set contains multiple records … policy discovery
    // terminates and DMARC processing is not applied to this message."
    trace.push_back({TraceStep::Kind::step,
                     fmt::format("{} DMARC records at _dmarc.{}: none applies (RFC 7489 §6.6.3)",
                                 candidates.size(), domain)});
    d.outcome = Lookup::multiple;
    return d;
  }
  if (candidates.empty()) return d;
  std::string why;
  d.record = parse_record(candidates.front(), why, trace);
  if (!d.record) {
    trace.push_back({TraceStep::Kind::step,
                     fmt::format("ignored record at _dmarc.{}: {}", domain, why)});
    return d;
  }
  d.outcome = Lookup::found;
  return d;
}

// `b_org` is organizational_domain(b), which the caller has already.
bool aligned(const std::string& a, const std::string& b, const std::string& b_org, bool strict) {
  if (a.empty() || b.empty()) return false;
  if (strict) return a == b;  // §3.1.1/§3.1.2 strict: exact match
  // Relaxed: the Organizational Domains match.
  return organizational_domain(a) == b_org;
}

}  // namespace

std::string organizational_domain(std::string_view domain) {
  // The answer depends on the name and the process's public suffix list only, and a
  // receiver sees the same few domains again and again (From, MAIL FROM and d= of each
  // message): each thread keeps the answers it computed, keyed by the exact text and
  // bounded. DNS is not involved; every DMARC check still does its own lookups.
  constexpr std::size_t kMaxCached = 1024;
  thread_local std::unordered_map<std::string, std::string> cache;
  thread_local std::string key;
  key.assign(domain);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  // RFC 7489 §3.2: the public suffix plus one label. A name that is itself a public suffix
  // (or unlisted single label) is its own organizational domain.
  std::string canonical = lower(domain);
  while (!canonical.empty() && canonical.back() == '.') canonical.pop_back();
  std::string org = PublicSuffixList::system().registrable_domain(canonical).value_or(canonical);
  if (cache.size() >= kMaxCached) cache.clear();
  cache.emplace(key, org);
  return org;
}

DmarcResult check_dmarc(const Message& message, const SpfResult& spf, const DkimResult& dkim,
                        dns::Resolver& resolver) {
  DmarcResult out;
  TracingResolver tracing(resolver, out.trace);

  auto froms = message.find_all("From");
  out.from_domain = message.from_domain();
  if (froms.size() != 1 || out.from_domain.empty()) {
    // §6.6.1: DMARC needs exactly one RFC5322.From domain; without one it cannot apply.
    out.result = Result::permerror;
    out.cause = froms.empty()       ? "the message has no From header (RFC 7489 §6.6.1)"
                : froms.size() > 1 ? "the message has several From headers (RFC 7489 §6.6.1)"
                                   : "the From header has no parsable domain (RFC 7489 §6.6.1)";
    return out;
  }

  // §6.6.3 policy discovery: the From domain, then its Organizational Domain.
  Discovery d = discover(out.from_domain, tracing, out.trace);
  out.record_domain = "_dmarc." + out.from_domain;
  std::string org = organizational_domain(out.from_domain);
  if (d.outcome == Lookup::absent && org != out.from_domain) {
    out.trace.push_back({TraceStep::Kind::step,
                         fmt::format("no DMARC record at _dmarc.{}; trying the organizational "
                                     "domain {} (RFC 7489 §6.6.3)",
                                     out.from_domain, org)});
    d = discover(org, tracing, out.trace);
    out.record_domain = "_dmarc." + org;
  }
  if (d.outcome == Lookup::error) {
    out.result = d.error;
    out.cause = d.error_text + ": the DMARC policy could not be retrieved (RFC 7489 §6.6.3)";
    return out;
  }
  if (d.outcome == Lookup::multiple) {
    out.result = Result::none;
    out.cause = "several DMARC records published at " + out.record_domain +
                ": none applies (RFC 7489 §6.6.3)";
    return out;
  }
  if (d.outcome == Lookup::absent) {
    out.result = Result::none;
    out.record_domain.clear();
    out.cause = "no valid DMARC record for " + out.from_domain +
                (org != out.from_domain ? " or " + org : std::string()) ;
    return out;
  }
  out.record = std::move(d.record);
  const DmarcRecord& rec = *out.record;
  // §6.3 sp: "applied … to all subdomains of the domain queried"; only when the record was
  // found at the organizational domain for a From subdomain.
  bool subdomain = out.record_domain != "_dmarc." + out.from_domain;
  out.policy = subdomain && !rec.sp.empty() ? rec.sp : rec.p;

  // §3.1.2 SPF: the SPF-authenticated identifier (MAIL FROM domain, or HELO for a null
  // reverse-path) must pass and align.
  if (spf.is(Result::pass)) {
    out.spf_domain_used = lower(spf.domain);
    out.spf_aligned = aligned(out.spf_domain_used, out.from_domain, org, rec.aspf_strict);
    out.trace.push_back({TraceStep::Kind::step,
                         fmt::format("SPF pass for {} {} {} ({} alignment)",
                                     out.spf_domain_used, out.spf_aligned ? "aligns with" : "does not align with",
                                     out.from_domain, rec.aspf_strict ? "strict" : "relaxed")});
  } else {
    out.trace.push_back({TraceStep::Kind::step,
                         fmt::format("SPF {} for {}: not usable for DMARC", to_string(spf.result),
                                     spf.domain.empty() ? "(no domain)" : spf.domain)});
  }
  // §3.1.1 DKIM: any passing signature whose d= aligns.
  const std::vector<std::string> passing = dkim.passing_domains();
  for (const std::string& d_domain : passing) {
    std::string dl = lower(d_domain);
    bool ok = aligned(dl, out.from_domain, org, rec.adkim_strict);
    out.trace.push_back({TraceStep::Kind::step,
                         fmt::format("DKIM pass d={} {} {} ({} alignment)", dl,
                                     ok ? "aligns with" : "does not align with", out.from_domain,
                                     rec.adkim_strict ? "strict" : "relaxed")});
    if (ok && !out.dkim_aligned) {
      out.dkim_aligned = true;
      out.dkim_domain_used = dl;
    }
  }
  if (passing.empty()) {
    out.trace.push_back({TraceStep::Kind::step,
                         fmt::format("DKIM {}: no passing signature", to_string(dkim.result))});
  }

  // §6.6.2: DMARC passes when at least one aligned identifier passes.
  if (out.spf_aligned || out.dkim_aligned) {
    out.result = Result::pass;
    out.cause = fmt::format("{} aligned with {}", out.dkim_aligned ? "DKIM d=" + out.dkim_domain_used
                                                                    : "SPF " + out.spf_domain_used,
                            out.from_domain);
  } else {
    out.result = Result::fail;
    out.cause = fmt::format("neither SPF nor DKIM passed aligned with {} (policy {})",
                            out.from_domain, out.policy);
  }
  return out;
}

}  // namespace mailsim::auth
