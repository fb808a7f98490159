// Microsoft's rulebook (providers.md "Microsoft"): outlook.com / hotmail.com / live.com.
#include "rulebooks.hpp"

namespace mailsim::personas {
namespace {
constexpr const char* kPolicies =
    "Outlook.com postmaster policies, sendersupport.olc.protection.outlook.com/pm/policies.aspx";
constexpr const char* kHighVolume =
    "Microsoft, Outlook's new requirements for high-volume senders (2025-05-05), "
    "techcommunity.microsoft.com";
constexpr const char* kNdr =
    "Exchange Online NDRs, learn.microsoft.com/exchange/mail-flow-best-practices/"
    "non-delivery-reports-in-exchange-online";
constexpr const char* kNdrUnverified =
    "Outlook.com postmaster policies (no documented reply code: UNVERIFIED), "
    "sendersupport.olc.protection.outlook.com/pm/policies.aspx";
}  // namespace

Persona outlook_persona() {
  using namespace pred;
  Persona p;
  p.name = "outlook";
  p.description = "Outlook.com: rDNS, block lists at MAIL FROM, DMARC reject, 5.7.515 high-volume";
  p.default_host = "outlook-com.olc.protection.outlook.com";
  p.greeting_suffix = "Microsoft ESMTP MAIL Service ready";
  p.accept_enhanced = "2.6.0";
  p.accept_text = "<{id}> Queued mail for delivery";
  p.model = ScoreModel::first_match;
  p.score_formula = "Microsoft publishes no score; verdict = first matching rule (table order)";
  p.rules = {
      {"outlook.bad_helo", Stage::helo,
       "HELO is not a valid host name (bare IP, localhost, no dot)",
       [](const RuleInput& in) {
         return in.checks.helo && (!in.checks.helo->fqdn || in.checks.helo->localhost);
       },
       550, "5.7.506", "Access Denied, Bad HELO", Disposition::rejected, 0, kNdr},
      // Block-list replies come at MAIL FROM (providers.md); Spamhaus has its own text.
      {"outlook.spamhaus", Stage::mail, "The client address is listed by Spamhaus",
       [](const RuleInput& in) { return listed_on(in, "spamhaus"); }, 550, "5.7.1",
       "Service unavailable, Client host [{ip}] blocked using Spamhaus. To request removal from "
       "this list see https://www.spamhaus.org/query/ip/{ip} (AS3130).",
       Disposition::rejected, 0, kNdr},
      {"outlook.blocklist", Stage::mail, "The client address is on a block list",
       [](const RuleInput& in) { return listed(in); }, 550, "5.7.1",
       "Unfortunately, messages from [{ip}] weren't sent. Please contact your Internet service "
       "provider since part of their network is on our block list (S3150). You can also refer "
       "your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.",
       Disposition::rejected, 0, kPolicies},
      {"outlook.ipv6_rdns", Stage::rcpt, "IPv6 client without reverse DNS",
       [](const RuleInput& in) { return in.facts.ipv6 && iprev_failed(in); }, 550, "5.7.25",
       "Access denied, the sending IPv6 address [{ip}] must have a reverse DNS record.",
       Disposition::rejected, 0, kNdr},
      {"outlook.from", Stage::data, "No From: address, or more than one (RFC 5322 §3.6.2)",
       [](const RuleInput& in) { return content_known(in) && in.checks.content->from_count != 1; },
       550, "5.7.512",
       "Access denied, message must be RFC 5322 section 3.6.2 compliant and include a valid From "
       "address.",
       Disposition::rejected, 0, kNdr},
      {"outlook.dmarc_reject", Stage::data, "DMARC fails and the domain's policy is reject",
       [](const RuleInput& in) {
         return dmarc_is(in, auth::Result::fail) && dmarc_policy(in, "reject");
       },
       550, "5.7.509",
       "Access denied, sending domain [{from_domain}] does not pass DMARC verification and has a "
       "DMARC policy of reject.",
       Disposition::rejected, 0, kNdr},
      {"outlook.high_volume", Stage::data,
       "High-volume sender without SPF pass, DKIM pass and DMARC pass (all three required)",
       [](const RuleInput& in) {
         return in.facts.bulk && !(spf_pass(in.checks) && dkim_pass_any(in.checks) &&
                                   dmarc_is(in, auth::Result::pass));
       },
       550, "5.7.515",
       "Access denied, sending domain [{from_domain}] doesn't meet the required authentication "
       "level. The sender's domain in the 5322.From address doesn't meet the authentication "
       "requirements defined for the sender. To learn more about sending requirements, visit "
       "https://aka.ms/sender-requirements. Spf= {spf} , Dkim= {dkim} , DMARC= {dmarc}",
       Disposition::rejected, 0, kHighVolume},
      {"outlook.spf_fail", Stage::data, "SPF hard fail and no DKIM signature passes",
       [](const RuleInput& in) {
         return spf_is(in, auth::Result::fail) && !dkim_pass_any(in.checks);
       },
       550, "5.7.23", "The message was rejected because of Sender Policy Framework violation",
       Disposition::rejected, 0, kNdr},
      {"outlook.ipv6_unauthenticated", Stage::data, "IPv6 client with neither SPF nor DKIM pass",
       [](const RuleInput& in) {
         return in.facts.ipv6 && !spf_pass(in.checks) && !dkim_pass_any(in.checks);
       },
       450, "4.7.26",
       "Service unavailable, message sent over IPv6 [{ip}] must pass either SPF or DKIM "
       "validation, this message is not signed",
       Disposition::deferred, 0, kNdr},
      // No documented code for a missing IPv4 PTR: junk folder plus a finding (providers.md).
      {"outlook.rdns", Stage::data,
       "The client address fails a reverse-DNS lookup (\"We may not accept email from senders "
       "who fail a reverse-DNS lookup\")",
       [](const RuleInput& in) { return !in.facts.ipv6 && iprev_failed(in); }, 0, "", "",
       Disposition::spam, 0, kNdrUnverified},
      {"outlook.unauthenticated", Stage::data, "Neither SPF nor DKIM passes: junk folder",
       [](const RuleInput& in) { return !spf_pass(in.checks) && !dkim_pass_any(in.checks); }, 0, "",
       "", Disposition::spam, 0, kPolicies},
  };
  return p;
}

}  // namespace mailsim::personas
