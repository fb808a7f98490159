// Gmail's rulebook (providers.md "Gmail"): requirements for all senders and bulk senders,
// replies from "Gmail SMTP errors and codes".
#include "rulebooks.hpp"

namespace mailsim::personas {
namespace {
constexpr const char* kCodes = "Gmail SMTP errors and codes, support.google.com/a/answer/3726730";
constexpr const char* kGuide = "Gmail sender guidelines, support.google.com/a/answer/81126";
constexpr const char* kFaq = "Gmail sender guidelines FAQ, support.google.com/a/answer/14229414";
}  // namespace

Persona gmail_persona() {
  using namespace pred;
  Persona p;
  p.name = "gmail";
  p.description = "Gmail (gmail.com): SPF or DKIM, FCrDNS, TLS, RFC 5322; bulk rules when bulk";
  p.default_host = "mx.google.com";
  p.greeting_suffix = "ESMTP {id} - gsmtp";
  p.accept_text = "OK {id} - gsmtp";
  p.reply_suffix = " {id} - gsmtp";
  p.model = ScoreModel::first_match;
  p.score_formula = "Gmail publishes no score; verdict = first matching rule (table order)";
  p.rules = {
      // PTR replies "may come earlier" than DATA (providers.md): we answer at RCPT, the
      // first point where Gmail has a recipient to reject for, and before spending DATA.
      {"gmail.ptr_temperror", Stage::rcpt,
       "PTR / forward lookup of the client address failed temporarily",
       [](const RuleInput& in) { return !in.facts.ipv6 && iprev_temperror(in); }, 451, "4.7.23",
       "This message was temporarily deferred because the sending IP address doesn't have a PTR "
       "record, or the PTR record's forward DNS entry doesn't match the sending IP address.\n"
       "For more information, go to\n https://support.google.com/mail/answer/81126#ip-practices",
       Disposition::deferred, 0, kCodes},
      {"gmail.ptr", Stage::rcpt,
       "The client IPv4 address has no PTR, or the PTR name does not resolve back to it (FCrDNS)",
       [](const RuleInput& in) { return !in.facts.ipv6 && iprev_failed(in); }, 550, "5.7.25",
       "This message was blocked because the sending IP address doesn't have a PTR record, or "
       "the forwarding DNS entry doesn't reference the sending IP address.\n"
       "For more information, go to\n https://support.google.com/mail/answer/81126#ip-practices",
       Disposition::rejected, 0, kCodes},
      // A finding, not a verdict: a weak key simply does not count as DKIM pass below.
      {"gmail.dkim_weak_key", Stage::data,
       "DKIM signature verifies but its RSA key is shorter than 1024 bits: not counted as a pass",
       [](const RuleInput& in) { return dkim_pass_any(in.checks) && !dkim_pass_strong(in.checks); },
       0, "", "", Disposition::inbox, 0, kGuide},
      {"gmail.reputation", Stage::data,
       "The client address is listed on a DNS block list (low IP reputation)",
       [](const RuleInput& in) { return listed(in); }, 421, "4.7.0",
       "This message is suspicious due to the very low reputation of the sending IP address.\n"
       "To protect our users from spam, mail sent from your IP address has been temporarily rate "
       "limited. For more information, go to\n https://support.google.com/mail/answer/188131",
       Disposition::deferred, 0, kCodes},
      {"gmail.ipv6", Stage::data, "IPv6 client without FCrDNS or without SPF/DKIM pass",
       [](const RuleInput& in) {
         return in.facts.ipv6 && (iprev_failed(in) || !authenticated(in));
       },
       550, "5.7.1",
       "This message does not meet IPv6 sending guidelines regarding PTR records and "
       "authentication.\nFor more information, go to\n "
       "https://support.google.com/mail/?p=IPv6AuthError",
       Disposition::rejected, 0, kCodes},
      {"gmail.dmarc_temperror", Stage::data, "DMARC evaluation hit a temporary DNS error",
       [](const RuleInput& in) { return dmarc_is(in, auth::Result::temperror); }, 451, "4.7.26",
       "Unauthenticated email from {from_domain} is not accepted due to domain's DMARC policy.\n"
       "A temporary DNS error prevented the policy check; please try again later.",
       Disposition::deferred, 0, kCodes},
      // providers.md gives "421 4.7.26 / 550 5.7.26" for "neither SPF nor DKIM pass": the 4xx
      // when the failure is temporary (an SPF or DKIM DNS lookup hit a temporary error), so
      // the sender's retry may authenticate. It comes before gmail.dmarc because the DMARC
      // check reports plain fail when SPF was a temperror (RFC 7489 §6.6.2 leaves temporary
      // errors to the receiver), and a permanent 550 would then hide a passing retry.
      {"gmail.unauthenticated_temporary", Stage::data,
       "Neither SPF nor DKIM passes, and SPF or DKIM hit a temporary DNS error (a retry may "
       "authenticate)",
       [](const RuleInput& in) {
         return !authenticated(in) && (spf_is(in, auth::Result::temperror) || dkim_temperror(in));
       },
       421, "4.7.26",
       "This mail has been rate limited because it is unauthenticated. Gmail requires all "
       "senders to authenticate with either SPF or DKIM.\n\nAuthentication results:\n"
       " DKIM = did not pass\n SPF [{domain}] with ip: [{ip}] = did not pass\n\n"
       " For instructions on setting up authentication, go to\n"
       " https://support.google.com/mail/answer/81126#authentication",
       Disposition::deferred, 0, kCodes},
      {"gmail.dmarc", Stage::data, "DMARC fails and the domain's policy is reject or quarantine",
       [](const RuleInput& in) {
         return dmarc_is(in, auth::Result::fail) &&
                (dmarc_policy(in, "reject") || dmarc_policy(in, "quarantine"));
       },
       550, "5.7.26",
       "Unauthenticated email from {from_domain} is not accepted due to domain's DMARC policy.\n"
       "Please contact the administrator of {from_domain} domain if this was a legitimate mail.\n"
       "To learn about the DMARC initiative, go to\n "
       "https://support.google.com/mail/?p=DmarcRejection",
       Disposition::rejected, 0, kCodes},
      {"gmail.spf_hardfail", Stage::data,
       "SPF fails under a -all policy and no DKIM signature passes",
       [](const RuleInput& in) {
         return spf_is(in, auth::Result::fail) && !dkim_pass_strong(in.checks);
       },
       550, "5.7.26",
       "The (E)MAIL FROM domain [{domain}] has an SPF record with a hard fail policy (-all) but it "
       "fails to pass SPF checks with the ip: [{ip}].\n"
       "To best protect our users from spam and phishing, the message has been blocked.\n"
       "For more information, go to\n https://support.google.com/mail/answer/81126#authentication",
       Disposition::rejected, 0, kCodes},
      {"gmail.unauthenticated", Stage::data, "Neither SPF nor DKIM (key >= 1024 bits) passes",
       [](const RuleInput& in) { return !authenticated(in); }, 550, "5.7.26",
       "This mail has been blocked because the sender is unauthenticated. Gmail requires all "
       "senders to authenticate with either SPF or DKIM.\n\nAuthentication results:\n"
       " DKIM = did not pass\n SPF [{domain}] with ip: [{ip}] = did not pass\n\n"
       " For instructions on setting up authentication, go to\n"
       " https://support.google.com/mail/answer/81126#authentication",
       Disposition::rejected, 0, kCodes},
      {"gmail.rfc5322_from", Stage::data, "The message has no From: header (RFC 5322 §3.6)",
       [](const RuleInput& in) { return content_known(in) && in.checks.content->from_count == 0; },
       550, "5.7.1",
       "Our system has detected that this message is not RFC 5322 compliant:\n"
       "'From' header is missing.\nTo reduce the amount of spam sent to Gmail, this message has "
       "been blocked. For more information, go to\n"
       " https://support.google.com/mail/?p=RfcMessageNonCompliant",
       Disposition::rejected, 0, kCodes},
      {"gmail.rfc5322_message_id", Stage::data,
       "The message has no valid Message-ID: header (RFC 5322 §3.6.4)",
       [](const RuleInput& in) {
         return content_known(in) && !in.checks.content->valid_message_id;
       },
       550, "5.7.1",
       "Messages missing a valid Message-ID: header are not accepted. For more information, go "
       "to\n https://support.google.com/mail/?p=RfcMessageNonCompliant",
       Disposition::rejected, 0, kCodes},
      {"gmail.rfc5322_duplicate", Stage::data,
       "A single-instance header appears more than once (RFC 5322 §3.6)",
       [](const RuleInput& in) {
         return content_known(in) && (in.checks.content->from_count > 1 ||
                                      !in.checks.content->duplicated_headers.empty());
       },
       550, "5.7.1",
       "Our system has detected that this message is not RFC 5322 compliant:\n"
       "Duplicate single-instance headers found.\nTo reduce the amount of spam sent to Gmail, "
       "this message has been blocked. For more information, go to\n"
       " https://support.google.com/mail/?p=RfcMessageNonCompliant",
       Disposition::rejected, 0, kCodes},
      // Bulk senders (≈5,000+/day): SPF and DKIM, TLS, DMARC record, alignment, one-click.
      {"gmail.bulk_spf", Stage::data, "Bulk sender without SPF pass",
       [](const RuleInput& in) { return in.facts.bulk && !spf_pass(in.checks); }, 550, "5.7.27",
       "This mail has been blocked because the sender is unauthenticated. Gmail requires bulk "
       "email senders to authenticate their email with SPF.\nFor more information, go to\n"
       " https://support.google.com/mail/answer/81126#authentication",
       Disposition::rejected, 0, kCodes},
      {"gmail.bulk_dkim", Stage::data, "Bulk sender without DKIM pass",
       [](const RuleInput& in) { return in.facts.bulk && !dkim_pass_strong(in.checks); }, 550,
       "5.7.30",
       "This mail has been blocked because it didn't pass DKIM authentication. Gmail requires "
       "bulk email senders to authenticate their email with DKIM.\nFor more information, go to\n"
       " https://support.google.com/mail/answer/81126#authentication",
       Disposition::rejected, 0, kCodes},
      {"gmail.bulk_tls", Stage::data, "Bulk sender without TLS",
       [](const RuleInput& in) { return in.facts.bulk && !in.facts.tls; }, 550, "5.7.29",
       "This mail has been blocked because the sender isn't using a secure connection. Gmail "
       "requires all bulk email senders to use TLS/SSL for SMTP connections.\n"
       "For more information, go to\n https://support.google.com/mail/answer/81126",
       Disposition::rejected, 0, kCodes},
      {"gmail.bulk_dmarc_record", Stage::data, "Bulk sender whose From domain has no DMARC policy",
       [](const RuleInput& in) { return in.facts.bulk && !dmarc_has_record(in); }, 550, "5.7.40",
       "This mail has been blocked because the sender domain {from_domain} doesn't have a DMARC "
       "record or the DMARC record doesn't specify a DMARC policy.\nFor more information, go to\n"
       " https://support.google.com/mail/answer/81126#authentication",
       Disposition::rejected, 0, kCodes},
      // providers.md: the page prints "421 5.7.32", a 4xx code with a 5.x.x enhanced code,
      // which RFC 3463 §2 forbids; we use the consistent 550 5.7.32.
      {"gmail.bulk_alignment", Stage::data,
       "Bulk sender whose From domain aligns with neither SPF nor DKIM",
       [](const RuleInput& in) { return in.facts.bulk && !dmarc_aligned(in.checks); }, 550,
       "5.7.32",
       "This mail has been blocked because the sender's From: header isn't aligned with either "
       "the authenticated SPF or DKIM organizational domain.\nFor more information, go to\n"
       " https://support.google.com/mail/answer/81126#authentication",
       Disposition::rejected, 0, kCodes},
      {"gmail.bulk_one_click", Stage::data,
       "Bulk message without one-click unsubscribe (RFC 8058 List-Unsubscribe-Post)",
       [](const RuleInput& in) {
         return in.facts.bulk && content_known(in) && !in.checks.content->one_click;
       },
       0, "", "", Disposition::spam, 0, kFaq},
      {"gmail.no_tls", Stage::data,
       "Delivered without TLS: Gmail requires a TLS connection for all senders",
       [](const RuleInput& in) { return !in.facts.tls; }, 0, "", "", Disposition::spam, 0, kGuide},
  };
  return p;
}

}  // namespace mailsim::personas
