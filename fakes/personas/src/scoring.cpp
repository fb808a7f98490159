// Score-based personas: "corporate" (a SpamAssassin-style filter) and "mailtester" (the
// mail-tester.com /10 mark). Both share the SpamAssassin rule table below.
#include <algorithm>
#include <string>

#include "rulebooks.hpp"

namespace mailsim::personas {
namespace {
constexpr const char* kSa =
    "SpamAssassin rules/50_scores.cf (score set 1), spamassassin.apache.org";
constexpr const char* kRspamd = "rspamd conf/actions.conf (reject = 15), rspamd.com";
constexpr const char* kMt =
    "mail-tester.com observed deduction (providers.md; formula not published)";
constexpr const char* kMtShort =
    "mailsim choice: guide §8 says a too-short body may lose points (邮件内容过短可能扣分); "
    "mail-tester.com publishes no threshold";

// The mail-tester deduction for a very short body: fewer visible characters than a short
// sentence ("test", "hello", "test email"). A mailsim choice, not a published rule: 0.5 keeps
// a fully authenticated short message at 9.5 — the guide says the loss is acceptable "as long
// as SPF, DKIM and DMARC all pass" (guide §8). An empty body is SpamAssassin's EMPTY_MESSAGE.
constexpr std::size_t kShortBody = 32;
constexpr double kShortBodyPoints = 0.5;

using auth::Result;

bool has_signature(const RuleInput& in) {
  return in.checks.dkim && !in.checks.dkim->signatures.empty();
}
bool dkim_pass_for(const RuleInput& in, const std::string& domain) {
  if (!in.checks.dkim || domain.empty()) return false;
  return std::any_of(
      in.checks.dkim->signatures.begin(), in.checks.dkim->signatures.end(),
      [&](const auth::DkimSignatureResult& s) { return s.is(Result::pass) && s.domain == domain; });
}
bool helo_is(const RuleInput& in, bool auth::HeloResult::*flag) {
  return in.checks.helo && (*in.checks.helo).*flag;
}
bool spf_helo_is(const RuleInput& in, Result r) {
  return in.checks.spf_helo && in.checks.spf_helo->is(r);
}
// The receiving Postfix writes "unknown" as the client name in its Received: header unless
// the PTR name forward-confirms (postconf(5), reject_unknown_client_hostname: the address→
// name lookup fails, the name→address lookup fails, or it does not match the client
// address — temporary failures included); SpamAssassin reads "unknown" as no rDNS, so
// RDNS_NONE fires for every iprev result but pass.
bool no_verified_rdns(const RuleInput& in) {
  return in.checks.iprev && !in.checks.iprev->is(Result::pass);
}
bool dmarc_fail_under(const RuleInput& in, std::string_view policy) {
  return pred::dmarc_is(in, Result::fail) && pred::dmarc_policy(in, policy);
}

// SpamAssassin's rules with their set-1 scores (network tests, no Bayes), as providers.md
// lists them. `sign` = +1 for SpamAssassin points, −1 for mail-tester's flipped display.
std::vector<Rule> spamassassin_rules(double sign) {
  using namespace pred;
  auto r = [&](std::string id, Stage stage, std::string description,
               std::function<bool(const RuleInput&)> when, double points) {
    return Rule{std::move(id),
                stage,
                std::move(description),
                std::move(when),
                0,
                "",
                "",
                Disposition::inbox,
                sign * points,
                kSa};
  };
  return {
      r(
          "RDNS_NONE", Stage::connect,
          "Delivered by a host with no rDNS (no PTR, or a PTR that does not forward-confirm: "
          "Postfix writes `unknown`)",
          [](const RuleInput& in) { return no_verified_rdns(in); }, 1.274),
      r(
          "RCVD_IN_SBL", Stage::connect, "Received via a relay in Spamhaus SBL",
          [](const RuleInput& in) { return listed_on(in, "spamhaus", "SBL"); }, 2.596),
      r(
          "RCVD_IN_XBL", Stage::connect, "Received via a relay in Spamhaus XBL",
          [](const RuleInput& in) { return listed_on(in, "spamhaus", "XBL"); }, 0.724),
      r(
          "RCVD_IN_PBL", Stage::connect, "Received via a relay in Spamhaus PBL",
          [](const RuleInput& in) { return listed_on(in, "spamhaus", "PBL"); }, 3.558),
      r(
          "RCVD_IN_BL_SPAMCOP_NET", Stage::connect, "Received via a relay in bl.spamcop.net",
          [](const RuleInput& in) { return listed_on(in, "spamcop"); }, 1.246),
      r(
          "HELO_LOCALHOST", Stage::helo, "HELO is localhost",
          [](const RuleInput& in) { return helo_is(in, &auth::HeloResult::localhost); }, 3.603),
      r(
          "FSL_HELO_BARE_IP_1", Stage::helo, "HELO is a bare IP address",
          [](const RuleInput& in) { return helo_is(in, &auth::HeloResult::bare_ip); }, 1.426),
      r(
          "RCVD_HELO_IP_MISMATCH", Stage::helo, "Received: HELO and IP do not match, but should",
          [](const RuleInput& in) {
            return helo_is(in, &auth::HeloResult::resolves) &&
                   !helo_is(in, &auth::HeloResult::matches_client);
          },
          1.186),
      r(
          "KHOP_HELO_FCRDNS", Stage::helo, "Relay HELO differs from its IP's reverse DNS",
          [](const RuleInput& in) {
            return in.checks.iprev && in.checks.iprev->is(Result::pass) &&
                   helo_is(in, &auth::HeloResult::fqdn) &&
                   !helo_is(in, &auth::HeloResult::matches_ptr);
          },
          0.4),
      r(
          "SPF_HELO_NONE", Stage::helo, "SPF: HELO does not publish an SPF Record",
          [](const RuleInput& in) { return spf_helo_is(in, Result::none); }, 0.001),
      r(
          "SPF_HELO_FAIL", Stage::helo, "SPF: HELO does not match SPF record (fail)",
          [](const RuleInput& in) { return spf_helo_is(in, Result::fail); }, 0.001),
      r(
          "SPF_HELO_SOFTFAIL", Stage::helo, "SPF: HELO does not match SPF record (softfail)",
          [](const RuleInput& in) { return spf_helo_is(in, Result::softfail); }, 0.896),
      r(
          "SPF_PASS", Stage::mail, "SPF: sender matches SPF record",
          [](const RuleInput& in) { return spf_is(in, Result::pass); }, -0.001),
      r(
          "SPF_FAIL", Stage::mail, "SPF: sender does not match SPF record (fail)",
          [](const RuleInput& in) { return spf_is(in, Result::fail); }, 0.919),
      r(
          "SPF_SOFTFAIL", Stage::mail, "SPF: sender does not match SPF record (softfail)",
          [](const RuleInput& in) { return spf_is(in, Result::softfail); }, 0.972),
      r(
          "SPF_NEUTRAL", Stage::mail, "SPF: sender does not match SPF record (neutral)",
          [](const RuleInput& in) { return spf_is(in, Result::neutral); }, 0.652),
      r(
          "SPF_NONE", Stage::mail, "SPF: sender does not publish an SPF Record",
          [](const RuleInput& in) { return spf_is(in, Result::none); }, 0.001),
      r(
          "DKIM_SIGNED", Stage::data, "Message has a DKIM or DK signature, not necessarily valid",
          [](const RuleInput& in) { return has_signature(in); }, 0.1),
      r(
          "DKIM_INVALID", Stage::data, "DKIM or DK signature exists, but is not valid",
          [](const RuleInput& in) { return has_signature(in) && !dkim_pass_any(in.checks); }, 0.1),
      r(
          "DKIM_VALID", Stage::data, "Message has at least one valid DKIM or DK signature",
          [](const RuleInput& in) { return dkim_pass_any(in.checks); }, -0.1),
      r(
          "DKIM_VALID_AU", Stage::data,
          "Message has a valid DKIM or DK signature from author's domain",
          [](const RuleInput& in) { return dkim_pass_for(in, in.facts.from_domain); }, -0.1),
      r(
          "DKIM_VALID_EF", Stage::data,
          "Message has a valid DKIM or DK signature from envelope-from domain",
          [](const RuleInput& in) { return dkim_pass_for(in, in.facts.mail_from_domain()); }, -0.1),
      r(
          "DMARC_PASS", Stage::data, "DMARC pass policy",
          [](const RuleInput& in) { return dmarc_is(in, Result::pass); }, -0.001),
      r(
          "DMARC_NONE", Stage::data, "DMARC none policy (and the message fails DMARC)",
          [](const RuleInput& in) { return dmarc_fail_under(in, "none"); }, 0.898),
      r(
          "DMARC_QUAR", Stage::data, "DMARC quarantine policy (and the message fails DMARC)",
          [](const RuleInput& in) { return dmarc_fail_under(in, "quarantine"); }, 1.198),
      r(
          "DMARC_REJECT", Stage::data, "DMARC reject policy (and the message fails DMARC)",
          [](const RuleInput& in) { return dmarc_fail_under(in, "reject"); }, 1.797),
      r(
          "DMARC_MISSING", Stage::data, "Missing DMARC policy",
          [](const RuleInput& in) { return dmarc_is(in, Result::none); }, 0.001),
      r(
          "MISSING_DATE", Stage::data, "Missing Date: header",
          [](const RuleInput& in) { return content_known(in) && !in.checks.content->has_date; },
          1.396),
      r(
          "MISSING_MID", Stage::data, "Missing Message-Id: header",
          [](const RuleInput& in) {
            return content_known(in) && !in.checks.content->has_message_id;
          },
          0.140),
      r(
          "MISSING_HEADERS", Stage::data, "Missing To: header",
          [](const RuleInput& in) { return content_known(in) && !in.checks.content->has_to; },
          1.207),
      r(
          "EMPTY_MESSAGE", Stage::data, "Message appears to have no textual parts",
          [](const RuleInput& in) { return content_known(in) && in.checks.content->empty_body; },
          2.344),
      r(
          "MIME_HTML_ONLY", Stage::data, "Message only has text/html MIME parts",
          [](const RuleInput& in) { return content_known(in) && in.checks.content->html_only; },
          0.1),
  };
}

}  // namespace

Persona corporate_persona() {
  Persona p;
  p.name = "corporate";
  p.description = "A corporate SpamAssassin filter: required_score 5 → spam, ≥ 15 → 550 reject";
  p.default_host = "mx.corp.example";
  p.greeting_suffix = "ESMTP Postfix (Debian/GNU)";
  p.accept_text = "Ok: queued as {id}";
  p.model = ScoreModel::spamassassin;
  p.start_score = 0;
  p.spam_threshold = 5;
  p.reject_threshold = 15;
  p.score_reject.code = 550;
  p.score_reject.enhanced = "5.7.1";
  p.score_reject.lines = {"Message rejected as spam (score {score}, reject threshold 15)"};
  p.score_formula =
      "score = sum of SpamAssassin rule points (50_scores.cf, set 1); score >= 5 (required_score) "
      "-> spam folder; score >= 15 (rspamd's reject action) -> 550 5.7.1";
  p.rules = spamassassin_rules(+1);
  p.score_reject.cause = kRspamd;
  return p;
}

Persona mailtester_persona() {
  using namespace pred;
  Persona p;
  p.name = "mailtester";
  p.description = "mail-tester.com: 10/10 minus SpamAssassin hits and its own deductions";
  p.default_host = "mail-tester.com";
  p.greeting_suffix = "ESMTP Postfix";
  p.accept_text = "Ok: queued as {id}";
  p.model = ScoreModel::mailtester;
  p.start_score = 10;
  p.spam_threshold = 5;
  p.own_rule_prefix = "MT_";
  p.score_formula =
      "score = clamp(10 - max(0, sum of SpamAssassin points (50_scores.cf, set 1, shown with "
      "flipped sign)) - 1 if no DKIM signature passes - 1 if SPF fails (fail, softfail, "
      "permerror, temperror) - 3 if the From domain has no reachable mail server (no MX/A, "
      "null MX, or only Cloudflare proxy addresses) - 0.5 if the visible body is under " +
      std::to_string(kShortBody) + " characters (mailsim choice), 0, 10); "
      "score < 5 -> spam (SpamAssassin's required_score 5 seen from 10), else inbox";
  p.rules = spamassassin_rules(-1);
  // "SPF failure −1" (providers.md). RFC 7208 §2.6: fail and softfail say the host is (probably)
  // not authorized; permerror (§2.6.7) means the record is broken, so it authorizes no one;
  // temperror (§2.6.6) leaves this test message unauthorized too (a one-shot test does not
  // retry). Neutral is not a failure: §8.2 "A Neutral result MUST be treated exactly like the
  // None result" — and None is "no SPF record", a different finding (SPF_NONE).
  p.rules.push_back({"MT_SPF_FAILURE", Stage::mail,
                     "SPF does not authorize this server (SPF fail, softfail, permerror or "
                     "temperror)",
                     [](const RuleInput& in) {
                       return spf_is(in, Result::fail) || spf_is(in, Result::softfail) ||
                              spf_is(in, Result::permerror) || spf_is(in, Result::temperror);
                     },
                     0, "", "", Disposition::inbox, -1.0, kMt});
  // "Not signed with DKIM −1" (providers.md) whenever no signature passes: RFC 6376 §6.1
  // "a Verifier SHOULD NOT treat a message that has one or more bad signatures and no good
  // signatures differently from a message with no signature at all" — a truncated or
  // unpublished key is as good as no signature (mail-tester reports it the same way).
  p.rules.push_back({"MT_NO_DKIM", Stage::data,
                     "Your message is not signed with DKIM, or no DKIM signature verifies",
                     [](const RuleInput& in) { return !dkim_pass_any(in.checks); }, 0, "", "",
                     Disposition::inbox, -1.0, kMt});
  // "We did not find a mail server −3" (providers.md, attribution unclear): modelled as the
  // From domain's MX (or implicit MX, RFC 5321 §5.1) leading to no address that can receive
  // SMTP — see auth::check_mx. A temporary DNS error is not counted (nothing was learned).
  p.rules.push_back({"MT_NO_MAIL_SERVER", Stage::data,
                     "We did not find a mail server for the From domain (no MX or A, null MX, "
                     "or only Cloudflare proxy addresses, which carry no SMTP)",
                     [](const RuleInput& in) {
                       return in.checks.mx && (in.checks.mx->is(Result::fail) ||
                                               in.checks.mx->is(Result::permerror));
                     },
                     0, "", "", Disposition::inbox, -3.0, kMt});
  p.rules.push_back({"MT_BODY_TOO_SHORT", Stage::data,
                     "Your message is too short: under " + std::to_string(kShortBody) +
                         " characters of visible text",
                     [](const RuleInput& in) {
                       return content_known(in) && !in.checks.content->empty_body &&
                              in.checks.content->body_length < kShortBody;
                     },
                     0, "", "", Disposition::inbox, -kShortBodyPoints, kMtShort});
  return p;
}

}  // namespace mailsim::personas
