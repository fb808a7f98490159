#include "mailsim/score/scorer.hpp"

#include <gtest/gtest.h>

#include "mailsim/score/expectation.hpp"
#include "mailsim/score/fixes.hpp"

namespace mailsim::score {
namespace {

smtp::Reply reply(int code, std::string enhanced, std::vector<std::string> lines) {
  smtp::Reply r;
  r.code = code;
  r.enhanced = std::move(enhanced);
  r.lines = std::move(lines);
  return r;
}

// The DESIGN.md example: mx proxied by Cloudflare, Gmail rejects on FCrDNS.
Evidence cloudflare_gmail() {
  Evidence e;
  e.scenario = "cloudflare-proxy-on";
  e.persona = "gmail";
  e.domain = "nodeseek.com";
  e.sut_host = "mx.nodeseek.com";
  e.client_ip = "12.34.56.78";
  e.received = true;
  e.receiver_disposition = "rejected";
  auth::IprevResult iprev;
  iprev.result = auth::Result::fail;
  iprev.ptr_names = {"mx.nodeseek.com"};
  iprev.cause = "forward → 104.21.48.10 ≠ 12.34.56.78: FCrDNS fail";
  iprev.trace = {{auth::TraceStep::Kind::query, "PTR 78.56.34.12.in-addr.arpa → mx.nodeseek.com"},
                 {auth::TraceStep::Kind::query, "A mx.nodeseek.com → 104.21.48.10"}};
  e.checks.iprev = iprev;
  auth::SpfResult spf;
  spf.result = auth::Result::fail;
  spf.domain = "nodeseek.com";
  spf.cause = "a and mx resolve to Cloudflare";
  e.checks.spf = spf;
  e.final_reply = reply(550, "5.7.25", {"The IP address sending this message does not have a",
                                        "PTR record setup. - gsmtp"});
  e.verdict_source = "support.google.com/a/answer/3726730";
  e.rules = {{"gmail.ptr", 0, "FCrDNS failed", "support.google.com/a/answer/3726730"}};
  return e;
}

TEST(Scorer, CloudflareChainIsCausalAndEndsInTheProxyFix) {
  Outcome o = score_probe(cloudflare_gmail());
  EXPECT_EQ(o.disposition, Disposition::rejected);
  ASSERT_GE(o.findings.size(), 4u);
  EXPECT_EQ(o.findings[0].kind, FindingKind::fact);
  EXPECT_EQ(o.findings[0].text, "A mx.nodeseek.com → 104.21.48.10 (Cloudflare)");
  EXPECT_EQ(o.findings[1].check, "iprev");
  EXPECT_NE(o.findings[1].text.find("PTR 12.34.56.78 → mx.nodeseek.com"), std::string::npos);
  EXPECT_NE(o.findings[1].reference.find("RFC 8601"), std::string::npos);
  EXPECT_EQ(o.findings[2].check, "spf");
  EXPECT_EQ(o.findings[3].kind, FindingKind::verdict);
  EXPECT_NE(o.findings[3].text.find("gmail: 550 5.7.25"), std::string::npos);
  EXPECT_EQ(o.findings[3].reference, "support.google.com/a/answer/3726730");
  ASSERT_TRUE(o.fix);
  EXPECT_EQ(o.fix->id, "proxy-on-mx");
  EXPECT_EQ(o.fix->text, "in your DNS panel, set the cloud icon of `mx` to DNS only");
  EXPECT_EQ(o.findings.back().kind, FindingKind::fix);
  EXPECT_FALSE(o.score);
}

TEST(Scorer, IsDeterministic) {
  EXPECT_EQ(score_probe(cloudflare_gmail()), score_probe(cloudflare_gmail()));
}

TEST(Scorer, PtrMissingWithoutProxyAsksForRdns) {
  Evidence e = cloudflare_gmail();
  e.checks.iprev->result = auth::Result::permerror;
  e.checks.iprev->ptr_names.clear();
  e.checks.iprev->trace = {{auth::TraceStep::Kind::query, "PTR 78.56.34.12.in-addr.arpa → NXDOMAIN"}};
  e.checks.iprev->cause = "no PTR record for 12.34.56.78";
  e.checks.spf.reset();
  Outcome o = score_probe(e);
  ASSERT_TRUE(o.fix);
  EXPECT_EQ(o.fix->id, "ptr-missing");
  EXPECT_EQ(o.fix->text,
            "ask your hosting provider to set the rDNS (PTR) of 12.34.56.78 to mx.nodeseek.com");
  EXPECT_NE(o.findings[0].text.find("no PTR"), std::string::npos);
}

TEST(Scorer, Port25BlockedIsUnreachableWithHostingFix) {
  Evidence e;
  e.scenario = "port25-blocked";
  e.persona = "outlook";
  e.domain = "nodeseek.com";
  e.sut_host = "mx.nodeseek.com";
  e.sender.failure = SenderFailure::connect_timeout;
  e.sender.target_host = "outlook-com.olc.protection.outlook.com";
  e.sender.target_ip = "52.101.68.1";
  e.sender.attempts = 3;
  Outcome o = score_probe(e);
  EXPECT_EQ(o.disposition, Disposition::unreachable);
  EXPECT_FALSE(o.reply);
  ASSERT_TRUE(o.fix);
  EXPECT_EQ(o.fix->id, "port25-blocked");
  EXPECT_NE(o.fix->text.find("ask your hosting provider to open outbound port 25"),
            std::string::npos);
  EXPECT_NE(o.findings[0].text.find("timed out after 3 attempts"), std::string::npos);
}

TEST(Scorer, InboundToProxiedMxNamesTheProxy) {
  Evidence e;
  e.direction = Direction::inbound;
  e.persona = "gmail";
  e.domain = "nodeseek.com";
  e.sut_host = "mx.nodeseek.com";
  e.sender.failure = SenderFailure::proxy_no_smtp;
  e.sender.target_host = "mx.nodeseek.com";
  e.sender.target_ip = "104.21.48.10";
  Outcome o = score_probe(e);
  EXPECT_EQ(o.disposition, Disposition::unreachable);
  ASSERT_GE(o.findings.size(), 3u);
  EXPECT_EQ(o.findings[0].text, "mx.nodeseek.com A → 104.21.48.10 (Cloudflare)");
  ASSERT_TRUE(o.fix);
  EXPECT_EQ(o.fix->text, "in your DNS panel, set the cloud icon of `mx` to DNS only");
}

// Inbound, the receiver saw a remote sender's address: the fix must name the server's own.
TEST(Scorer, InboundNoMxFixNamesTheServerAddress) {
  Evidence e;
  e.direction = Direction::inbound;
  e.persona = "gmail";
  e.domain = "nodeseek.com";
  e.sut_host = "mx.nodeseek.com";
  e.server_ip = "12.34.56.78";
  e.sender.failure = SenderFailure::no_mx;
  Outcome o = score_probe(e);
  ASSERT_TRUE(o.fix);
  EXPECT_EQ(o.fix->id, "no-mx");
  EXPECT_EQ(o.fix->text,
            "publish `MX @ mx.nodeseek.com` (priority 10) and `A mx 12.34.56.78` for nodeseek.com");
}

TEST(Scorer, DeferredAfterRetries) {
  Evidence e;
  e.persona = "yahoo";
  e.sender.failure = SenderFailure::deferred_after_retries;
  e.sender.target_host = "mta5.am0.yahoodns.net";
  e.sender.attempts = 5;
  Outcome o = score_probe(e);
  EXPECT_EQ(o.disposition, Disposition::deferred);
  ASSERT_TRUE(o.fix);
  EXPECT_EQ(o.fix->id, "deferred");
}

TEST(Scorer, MailtesterScoreSubtractsEveryDeduction) {
  Evidence e;
  e.persona = "mailtester";
  e.domain = "nodeseek.com";
  e.received = true;
  e.receiver_disposition = "inbox";
  e.final_reply = reply(250, "2.0.0", {"OK"});
  auth::DkimResult dkim;
  dkim.result = auth::Result::permerror;
  dkim.cause = "key syntax error: p= truncated at 255 octets";
  e.checks.dkim = dkim;
  e.rules = {{"DKIM_INVALID", -1.0, "DKIM signature invalid", "mail-tester observed"},
             {"SPF_PASS", 0.001, "SPF pass", "SpamAssassin 50_scores.cf"}};
  Outcome o = score_probe(e);
  ASSERT_TRUE(o.score);
  EXPECT_DOUBLE_EQ(o.score->value, 9.0);
  ASSERT_EQ(o.score->deductions.size(), 2u);
  EXPECT_DOUBLE_EQ(o.score->deductions[0].points, 1.0);  // subtracted from 10
  ASSERT_TRUE(o.fix);
  EXPECT_EQ(o.fix->id, "dkim-truncated");
}

TEST(Scorer, CleanInboxHasNoFix) {
  Evidence e;
  e.persona = "gmail";
  e.received = true;
  e.receiver_disposition = "inbox";
  e.final_reply = reply(250, "2.0.0", {"OK"});
  auth::SpfResult spf;
  spf.result = auth::Result::pass;
  e.checks.spf = spf;
  Outcome o = score_probe(e);
  EXPECT_EQ(o.disposition, Disposition::inbox);
  EXPECT_FALSE(o.fix);
  ASSERT_EQ(o.findings.size(), 1u);
  EXPECT_EQ(o.findings[0].kind, FindingKind::verdict);
}

TEST(Scorer, HardProblemsWinOverWeaknesses) {
  Evidence e;
  e.persona = "gmail";
  e.domain = "nodeseek.com";
  e.received = true;
  e.receiver_disposition = "spam";
  e.final_reply = reply(250, "2.0.0", {"OK"});
  auth::SpfResult helo;
  helo.result = auth::Result::none;  // earlier in the dialogue, but only a weakness
  e.checks.spf_helo = helo;
  auth::DkimResult dkim;
  dkim.result = auth::Result::fail;
  dkim.cause = "no key at s1._domainkey.nodeseek.com (NXDOMAIN)";
  e.checks.dkim = dkim;
  Outcome o = score_probe(e);
  ASSERT_TRUE(o.fix);
  EXPECT_EQ(o.fix->id, "dkim-unpublished");
}

// Causes as the auth checks word them (copied from a catalog run) → the fix row that must win.
TEST(Fixes, TableMatchesRealCauses) {
  struct Case {
    const char* check;
    const char* result;
    const char* text;
    const char* fix;
  };
  const Case cases[] = {
      {"dkim", "permerror",
       "dkim=permerror: public key record is truncated/unparsable: p= contains a quote at offset "
       "237 (2 strings joined: the value was split with a separator inside the key)",
       "dkim-split-wrong"},
      {"dkim", "permerror",
       "dkim=permerror: it is one 255-character string, so the key looks cut at 255 characters "
       "(RFC 6376 §3.6.2.2: longer values are split into several strings, joined with no "
       "separator)",
       "dkim-truncated"},
      {"dkim", "permerror",
       "dkim=permerror: no key for signature — s1._domainkey.nodeseek.com has no TXT record "
       "(NXDOMAIN)",
       "dkim-unpublished"},
      {"spf", "permerror",
       "spf=permerror for nodeseek.com (\"v=spf1 a mx -all\"): nodeseek.com publishes 2 SPF "
       "records; RFC 7208 §4.5 allows one",
       "spf-two-records"},
      {"spf", "permerror", "spf=permerror: more than 10 DNS-querying terms (RFC 7208 §4.6.4)",
       "spf-too-many-lookups"},
      {"spf", "fail", "spf=fail for nodeseek.com: does not designate 104.21.48.10",
       "spf-not-listed"},
      {"dmarc", "temperror", "dmarc=temperror: DNS SERVFAIL on _dmarc.nodeseek.com",
       "dns-temperror"},
      {"iprev", "fail", "iprev=fail: PTR 12.34.56.78 → NXDOMAIN: no reverse DNS",
       "ptr-missing-text"},
      {"dnsbl", "fail", "dnsbl=fail: 12.34.56.78 is listed on zen.spamhaus.org", "dnsbl-listed"},
      {"tls", "fail", "tls=fail: received without STARTTLS", "tls-missing"},
  };
  for (const auto& c : cases) {
    auto fix = find_fix({{FindingKind::check, c.check, c.result, c.text, ""}},
                        {{"domain", "nodeseek.com"}});
    ASSERT_TRUE(fix) << c.text;
    EXPECT_EQ(fix->id, c.fix) << c.text;
  }
}

TEST(Fixes, TemplateExpansion) {
  EXPECT_EQ(expand_fix_template("set {a} and {1} but {missing}", {{"a", "x"}}, {"all", "one"}),
            "set x and one but {missing}");
}

TEST(Fixes, AddressOwner) {
  EXPECT_EQ(address_owner("104.21.48.10"), "Cloudflare");
  EXPECT_EQ(address_owner("172.67.1.1"), "Cloudflare");
  EXPECT_EQ(address_owner("12.34.56.78"), "");
  EXPECT_EQ(address_owner("2606:4700::6810:300a"), "Cloudflare");
  EXPECT_EQ(address_owner("2001:db8::1"), "");
  EXPECT_EQ(address_owner("not an ip"), "");
}

Outcome outcome(Direction d, std::string persona, Disposition disp, std::optional<double> s = {}) {
  Outcome o;
  o.direction = d;
  o.persona = std::move(persona);
  o.disposition = disp;
  if (s) o.score = make_mailtester_score({{"X", 10.0 - *s, "", ""}});
  return o;
}

TEST(Expectation, DispositionsAlternativesNegationAndScores) {
  auto gmail = outcome(Direction::outbound, "gmail", Disposition::rejected);
  EXPECT_TRUE(evaluate({Direction::outbound, "gmail", "rejected", ""}, gmail).met);
  EXPECT_TRUE(evaluate({Direction::outbound, "gmail", "spam|rejected", ""}, gmail).met);
  EXPECT_FALSE(evaluate({Direction::outbound, "gmail", "not rejected", ""}, gmail).met);
  auto check = evaluate({Direction::outbound, "gmail", "inbox", ""}, gmail);
  EXPECT_FALSE(check.met);
  EXPECT_EQ(check.why, "gmail outbound: expected inbox, got rejected");
  auto mt = outcome(Direction::outbound, "mailtester", Disposition::inbox, 5.5);
  EXPECT_TRUE(evaluate({Direction::outbound, "mailtester", "<= 6", ""}, mt).met);
  EXPECT_FALSE(evaluate({Direction::outbound, "mailtester", ">= 9.5", ""}, mt).met);
  EXPECT_EQ(evaluate({Direction::outbound, "mailtester", "<= 6", ""}, mt).actual, "inbox 5.5");
  auto none = outcome(Direction::outbound, "mailtester", Disposition::unreachable);
  auto c = evaluate({Direction::outbound, "mailtester", "<= 6", ""}, none);
  EXPECT_FALSE(c.met);
  EXPECT_NE(c.why.find("no score"), std::string::npos);
}

TEST(Expectation, EnhancedCodeAndCombinedParts) {
  auto gmail = outcome(Direction::outbound, "gmail", Disposition::rejected);
  smtp::Reply r;
  r.code = 550;
  r.enhanced = "5.7.25";
  gmail.reply = r;
  EXPECT_TRUE(evaluate({Direction::outbound, "gmail", "rejected 5.7.25", ""}, gmail).met);
  EXPECT_TRUE(evaluate({Direction::outbound, "gmail", "5.7.25", ""}, gmail).met);
  auto wrong = evaluate({Direction::outbound, "gmail", "rejected 5.7.26", ""}, gmail);
  EXPECT_FALSE(wrong.met);
  EXPECT_EQ(wrong.why, "gmail outbound: expected rejected 5.7.26, got rejected (550 5.7.25)");
  auto mt = outcome(Direction::outbound, "mailtester", Disposition::inbox, 9.0);
  EXPECT_TRUE(evaluate({Direction::outbound, "mailtester", "inbox, >= 9", ""}, mt).met);
  EXPECT_FALSE(evaluate({Direction::outbound, "mailtester", "inbox, 10", ""}, mt).met);
  EXPECT_FALSE(evaluate({Direction::outbound, "mailtester", "spam, >= 9", ""}, mt).met);
}

TEST(Expectation, BadValuesNameTheValidForms) {
  try {
    parse_expected("inbx");
    FAIL() << "no throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("inbox, spam, rejected"), std::string::npos);
  }
  EXPECT_THROW(parse_expected("<= eleven"), std::invalid_argument);
  EXPECT_THROW(parse_expected("<= 11"), std::invalid_argument);
  EXPECT_THROW(parse_expected("rejected 5x7"), std::invalid_argument);
  EXPECT_THROW(parse_expected("inbox, spam"), std::invalid_argument);
}

TEST(Expectation, AllExpandsAndMissingIsUnmet) {
  std::vector<Outcome> outcomes = {outcome(Direction::inbound, "gmail", Disposition::unreachable),
                                   outcome(Direction::inbound, "yahoo", Disposition::inbox),
                                   outcome(Direction::outbound, "gmail", Disposition::inbox)};
  auto checks = evaluate_all({{Direction::inbound, "all", "unreachable", ""},
                              {Direction::outbound, "outlook", "inbox", ""}},
                             outcomes);
  ASSERT_EQ(checks.size(), 3u);
  EXPECT_TRUE(checks[0].met);
  EXPECT_FALSE(checks[1].met);
  EXPECT_EQ(checks[1].persona, "yahoo");
  EXPECT_FALSE(checks[2].met);
  EXPECT_EQ(checks[2].actual, "no outcome");
}

}  // namespace
}  // namespace mailsim::score

namespace mailsim::score {
namespace {

TEST(Scorer, FromDelivery) {
  mta::Delivery d;
  d.persona = "mailtester";
  d.client_ip = "12.34.56.78";
  d.disposition = personas::Disposition::spam;
  d.ended_at = personas::Stage::accepted;
  d.final_reply = reply(250, "2.0.0", {"OK queued"});
  d.rules = {{"SPF_FAIL", "SPF failed", -1.5, "SpamAssassin 50_scores.cf", personas::Stage::mail,
              personas::Disposition::spam, ""}};
  d.score = 8.5;
  d.transcript = {{smtp::Speaker::server, "250-mx.mail-tester.com\n250 SIZE"},
                  {smtp::Speaker::client, "QUIT"}};
  d.authentication_results = "mail-tester.com; spf=fail smtp.mailfrom=nodeseek.com";
  Evidence e;
  e.persona = "mailtester";
  add_delivery(e, d);
  Outcome o = score_probe(e);
  EXPECT_EQ(o.disposition, Disposition::spam);
  ASSERT_TRUE(o.score);
  EXPECT_DOUBLE_EQ(o.score->value, 8.5);
  EXPECT_EQ(o.score->deductions[0].rule, "SPF_FAIL");
  EXPECT_DOUBLE_EQ(o.score->deductions[0].points, 1.5);
  ASSERT_EQ(o.transcript.size(), 3u);
  EXPECT_EQ(o.transcript[0], "S: 250-mx.mail-tester.com");
  EXPECT_EQ(o.transcript[1], "S: 250 SIZE");
  EXPECT_EQ(o.transcript[2], "C: QUIT");
  EXPECT_EQ(o.authentication_results, d.authentication_results);
}

}  // namespace
}  // namespace mailsim::score

namespace mailsim::score {
namespace {

// The From domain's MX check (mail-tester's "no mail server") is a finding after the
// message checks, with its RFC.
TEST(Scorer, MxFailureIsAFindingAfterTheMessageChecks) {
  Evidence e = cloudflare_gmail();
  auth::MxResult mx;
  mx.result = auth::Result::fail;
  mx.cause = "mx.nodeseek.com → 104.21.48.10 (Cloudflare proxy): no mail server";
  e.checks.mx = mx;
  Outcome o = score_probe(e);
  auto at = [&](std::string_view prefix) {
    for (std::size_t i = 0; i < o.findings.size(); ++i)
      if (o.findings[i].text.rfind(prefix, 0) == 0) return static_cast<int>(i);
    return -1;
  };
  ASSERT_GE(at("mx=fail"), 0);
  EXPECT_GT(at("mx=fail"), at("spf=fail"));
  EXPECT_EQ(o.findings[at("mx=fail")].reference, "RFC 5321 §5.1, RFC 7505");
}

}  // namespace
}  // namespace mailsim::score
