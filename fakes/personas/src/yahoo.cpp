// Yahoo / AOL's rulebook (providers.md "Yahoo / AOL"), replies as sisimai catalogues them.
#include "rulebooks.hpp"

namespace mailsim::personas {
namespace {
constexpr const char* kBest = "Yahoo sender best practices, senders.yahooinc.com/best-practices";
constexpr const char* kCodes = "Yahoo SMTP error codes, senders.yahooinc.com/smtp-error-codes";
constexpr const char* kObserved =
    "Yahoo SMTP error codes, senders.yahooinc.com/smtp-error-codes (text as observed, sisimai)";
}  // namespace

Persona yahoo_persona() {
  using namespace pred;
  Persona p;
  p.name = "yahoo";
  p.description = "Yahoo/AOL: Spamhaus at connect, FCrDNS deferral, SPF or DKIM, DMARC policy";
  p.default_host = "mta5.am0.yahoodns.net";
  p.greeting_suffix = "ESMTP ready";
  p.accept_enhanced = "";
  p.accept_text = "ok dirdel";
  p.model = ScoreModel::first_match;
  p.score_formula = "Yahoo publishes no score; verdict = first matching rule (table order)";
  p.rules = {
      {"yahoo.spamhaus", Stage::connect, "The client address is in Spamhaus's list",
       [](const RuleInput& in) { return listed_on(in, "spamhaus"); }, 553, "5.7.1",
       "[BL21] Connections will not be accepted from {ip}, because the ip is in Spamhaus's list; "
       "see https://postmaster.yahooinc.com/error-codes",
       Disposition::rejected, 0, kObserved},
      // "valid forward and reverse DNS" is required of all senders; Yahoo's observed answer
      // at MAIL FROM is the TSS04 deferral (providers.md), so we give it there.
      {"yahoo.fcrdns", Stage::mail, "The client address has no valid forward and reverse DNS",
       [](const RuleInput& in) { return iprev_failed(in) || iprev_temperror(in); }, 421, "4.7.0",
       "[TSS04] Messages from {ip} temporarily deferred due to unexpected volume or user "
       "complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
       Disposition::deferred, 0, kBest},
      {"yahoo.from", Stage::data, "No From: address, or more than one (RFC 5322 §3.6.2)",
       [](const RuleInput& in) { return content_known(in) && in.checks.content->from_count != 1; },
       554, "5.7.9",
       "Message not accepted for policy reasons.  See "
       "https://postmaster.yahooinc.com/error-codes",
       Disposition::rejected, 0, kBest},
      // providers.md lists TSS04 for "unexpected volume or user complaints" and "also
      // unauthenticated". Which unauthenticated mail gets the deferral rather than 550 5.7.9
      // is our documented choice (docs/personas.md), like Gmail's 451 4.7.26 on a DNS error:
      // when SPF or DKIM failed only for now (temperror: SERVFAIL or timeout, RFC 7208
      // §2.6.6, RFC 6376 §6.1.2), a retry may authenticate, so a permanent refusal would be
      // wrong. It comes before the DMARC reject too: with SPF or DKIM unknown, DMARC's
      // "fail" is not final either (RFC 7489 §6.6.2 leaves temporary DNS errors to the
      // receiver's discretion).
      {"yahoo.unauthenticated_temporary", Stage::data,
       "Neither SPF nor DKIM passes, and SPF or DKIM hit a temporary DNS error (a retry may "
       "authenticate)",
       [](const RuleInput& in) {
         return !spf_pass(in.checks) && !dkim_pass_any(in.checks) &&
                (spf_is(in, auth::Result::temperror) || dkim_temperror(in));
       },
       421, "4.7.0",
       "[TSS04] Messages from {ip} temporarily deferred due to unexpected volume or user "
       "complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
       Disposition::deferred, 0, kObserved},
      {"yahoo.dmarc_reject", Stage::data, "DMARC fails and the domain's policy is reject",
       [](const RuleInput& in) {
         return dmarc_is(in, auth::Result::fail) && dmarc_policy(in, "reject");
       },
       554, "5.7.9",
       "Message not accepted for policy reasons.  See "
       "https://postmaster.yahooinc.com/error-codes",
       Disposition::rejected, 0, kCodes},
      // Authentication is only known after DATA (DKIM needs the message), so the
      // permanent "unauthenticated" reply comes there, not at MAIL FROM.
      {"yahoo.unauthenticated", Stage::data, "Neither SPF nor DKIM passes",
       [](const RuleInput& in) { return !spf_pass(in.checks) && !dkim_pass_any(in.checks); }, 550,
       "5.7.9",
       "This mail has been blocked because the sender is unauthenticated. Yahoo requires all "
       "senders to authenticate with either SPF or DKIM.",
       Disposition::rejected, 0, kCodes},
      {"yahoo.bulk_auth", Stage::data, "Bulk sender without both SPF and DKIM pass",
       [](const RuleInput& in) {
         return in.facts.bulk && !(spf_pass(in.checks) && dkim_pass_any(in.checks));
       },
       421, "4.7.0",
       "[TSS04] Messages from {ip} temporarily deferred due to unexpected volume or user "
       "complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
       Disposition::deferred, 0, kBest},
      {"yahoo.bulk_dmarc", Stage::data, "Bulk sender without a passing DMARC (p=none or stronger)",
       [](const RuleInput& in) { return in.facts.bulk && !dmarc_is(in, auth::Result::pass); }, 554,
       "5.7.9",
       "Message not accepted for policy reasons.  See "
       "https://postmaster.yahooinc.com/error-codes",
       Disposition::rejected, 0, kBest},
      {"yahoo.dmarc_quarantine", Stage::data, "DMARC fails and the domain's policy is quarantine",
       [](const RuleInput& in) {
         return dmarc_is(in, auth::Result::fail) && dmarc_policy(in, "quarantine");
       },
       0, "", "", Disposition::spam, 0, kBest},
      {"yahoo.bulk_one_click", Stage::data, "Bulk message without one-click unsubscribe (RFC 8058)",
       [](const RuleInput& in) {
         return in.facts.bulk && content_known(in) && !in.checks.content->one_click;
       },
       0, "", "", Disposition::spam, 0, kBest},
  };
  return p;
}

}  // namespace mailsim::personas
