// The Outcome model: what happened to one probe (scenario × direction × persona) and why.
// Built by the Scorer from a receiver's Delivery or the SUT's attempt log; rendered by
// harness/report (text, explain, JSON, JUnit, HTML). Pure data, deterministic.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailsim/smtp/reply.hpp"

namespace mailsim::score {

// Where a message ended up. Order is report order, best first.
enum class Disposition {
  inbox,        // accepted (2xx after DATA) and filed in the inbox
  spam,         // accepted and filed as junk / spam folder
  rejected,     // a 5xx reply (RFC 5321 §4.2.1: permanent negative completion)
  deferred,     // 4xx replies until the sender gave up (RFC 5321 §4.5.4.1 retry strategy)
  unreachable,  // no SMTP conversation happened: connect refused/timed out, no MX host
  not_sent,     // the sender never tried (SUT refused the submission, probe skipped)
};
std::string_view to_string(Disposition disposition);
std::optional<Disposition> disposition_from_string(std::string_view name);
// Every disposition name, in report order (for error messages).
const std::vector<std::string>& disposition_names();

// outbound: the setup under test sends to a persona; inbound: a persona's sender host
// sends to the setup under test.
enum class Direction { outbound, inbound };
std::string_view to_string(Direction direction);
std::optional<Direction> direction_from_string(std::string_view name);

// One mailtester-style deduction (a rule that fired, with points and where it comes from).
struct Deduction {
  std::string rule;         // "SPF_FAIL", "DKIM_MISSING", "RDNS_NONE"
  double points = 0;        // subtracted from 10 (negative = bonus, as SpamAssassin scores)
  std::string description;  // "SPF check failed for nodeseek.com"
  std::string source;       // "SpamAssassin 50_scores.cf", "mail-tester observed"
  bool operator==(const Deduction&) const = default;
};

// The /10 score as mail-tester.com shows it: 10 minus the deductions, clamped to [0, 10].
struct MailtesterScore {
  double value = 10.0;
  std::vector<Deduction> deductions;
  bool operator==(const MailtesterScore&) const = default;
};
MailtesterScore make_mailtester_score(std::vector<Deduction> deductions);

// One link of a cause chain. Findings come in causal order: facts of the world (DNS
// answers), the checks they made fail, the receiver's verdict, and last the fix.
enum class FindingKind { fact, check, verdict, fix };
std::string_view to_string(FindingKind kind);

struct Finding {
  FindingKind kind = FindingKind::fact;
  std::string check;      // "iprev", "spf", "dkim", "dmarc", "dnsbl", "helo", "tls",
                          // "content", "sut", "smtp", "dns"
  std::string result;     // RFC vocabulary for checks ("fail", "permerror"), else ""
  std::string text;       // "PTR 12.34.56.78 → mx.nodeseek.com, forward → 104.21.48.10 …"
  std::string reference;  // "RFC 8601 §3", "support.google.com/a/answer/3726730"
  bool operator==(const Finding&) const = default;
};

// The smallest change that removes the root cause.
struct Fix {
  std::string id;         // the fix-table row that matched, e.g. "proxy-on-mx"
  std::string text;       // "in your DNS panel, set the cloud icon of `mx` to DNS only"
  std::string reference;  // where the advice rests
  bool operator==(const Fix&) const = default;
};

struct Outcome {
  std::string scenario;
  Direction direction = Direction::outbound;
  std::string persona;  // "gmail", "outlook", "yahoo", "mailtester", "corporate"
  Disposition disposition = Disposition::not_sent;
  std::optional<smtp::Reply> reply;      // the final SMTP reply the sender got
  std::optional<MailtesterScore> score;  // mailtester persona only
  std::vector<Finding> findings;         // causal order; a fix finding comes last
  std::optional<Fix> fix;
  std::vector<std::string> transcript;   // "C: EHLO mx.nodeseek.com", "S: 250-…"
  std::string authentication_results;    // the header the receiver added, if it accepted
  bool operator==(const Outcome&) const = default;
};

// "550 5.7.26 Unauthenticated email …": code, enhanced code, lines joined by a space.
std::string reply_summary(const smtp::Reply& reply);
// "mailtester 9.5", the score with one decimal, stable across locales.
std::string format_score(double value);

}  // namespace mailsim::score
