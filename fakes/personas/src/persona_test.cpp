// Rulebook tests: for each documented rule, a CheckSet built by hand that triggers it gets
// exactly the documented reply, disposition and points (providers.md).
#include "mailsim/personas/persona.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <sstream>

#include "persona_test_inputs.hpp"

namespace mailsim::personas {
namespace {

using namespace test_inputs;

// --- engine ------------------------------------------------------------------------------

TEST(Persona, KnownNamesAndUnknownNameError) {
  std::vector<std::string> names;
  for (const auto& p : all_personas()) names.push_back(p.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"gmail", "outlook", "yahoo", "mailtester", "corporate"}));
  try {
    persona("hotmail");
    FAIL() << "expected an exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("known: gmail, outlook"), std::string::npos);
  }
}

TEST(Persona, EveryRuleHasIdSourceDescriptionAndValidReply) {
  for (const auto& p : all_personas()) {
    for (const auto& r : p.rules) {
      EXPECT_FALSE(r.id.empty());
      EXPECT_FALSE(r.description.empty()) << r.id;
      EXPECT_FALSE(r.source.empty()) << r.id;
      EXPECT_TRUE(static_cast<bool>(r.when)) << r.id;
      if (r.code != 0) {
        EXPECT_TRUE(r.code >= 400 && r.code < 600) << r.id;
        // RFC 3463 §2: the enhanced class matches the reply class.
        ASSERT_FALSE(r.enhanced.empty()) << r.id;
        EXPECT_EQ(r.enhanced[0] - '0', r.code / 100) << r.id;
        EXPECT_FALSE(r.text.empty()) << r.id;
        // The engine records 5xx as rejected, 4xx as deferred; the table says the same.
        EXPECT_EQ(r.disposition, r.code >= 500 ? Disposition::rejected : Disposition::deferred)
            << r.id;
      }
    }
  }
}

// The row docs/personas.md shows for a rule: "| `id` | stage | when | reply | disposition |
// points | source |", the reply as the table holds it (placeholders unexpanded, '\n' as
// <br>, the persona's suffix on the last line).
std::string doc_cell_points(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
std::string doc_reply(int code, const std::string& enhanced, std::string text) {
  for (std::size_t pos = 0; (pos = text.find('\n', pos)) != std::string::npos;)
    text.replace(pos, 1, "<br>");
  return std::to_string(code) + " " + enhanced + " " + text;
}
std::string doc_row(const Persona& p, const Rule& r) {
  std::string reply = "—";
  std::string disposition = "— (finding/score)";
  if (r.code != 0) reply = doc_reply(r.code, r.enhanced, r.text + p.reply_suffix);
  if (r.code != 0 || r.disposition != Disposition::inbox)
    disposition = std::string(to_string(r.disposition));
  return "| `" + r.id + "` | " + std::string(to_string(r.stage)) + " | " + r.description + " | " +
         reply + " | " + disposition + " | " + doc_cell_points(r.points) + " | " + r.source + " |";
}
std::string doc_score_reject_row(const Persona& p) {
  std::string text;
  for (const auto& l : p.score_reject.lines) text += (text.empty() ? "" : "\n") + l;
  return "| `score.reject` | data | total ≥ " + doc_cell_points(p.reject_threshold) + " | " +
         doc_reply(p.score_reject.code, p.score_reject.enhanced, text) + " | rejected | 0 | " +
         p.score_reject.cause + " |";
}

// docs/personas.md is the readable form of the tables: every rule has its row in its
// persona's section, showing the rule as the code has it (stage, description, reply,
// disposition, points, source), so the docs cannot drift from the tables.
TEST(Persona, DocsListEveryRule) {
  std::ifstream in(std::string(MAILSIM_SOURCE_DIR) + "/docs/personas.md");
  ASSERT_TRUE(in) << "docs/personas.md not found under " << MAILSIM_SOURCE_DIR;
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  for (const auto& p : all_personas()) {
    const auto begin = doc.find("## " + p.name + "\n");
    ASSERT_NE(begin, std::string::npos) << p.name;
    const auto end = doc.find("\n## ", begin + 1);
    const std::string section = doc.substr(begin, end == std::string::npos ? end : end - begin);
    std::vector<std::string> rows;
    for (const auto& r : p.rules) rows.push_back(doc_row(p, r));
    if (p.reject_threshold > 0) rows.push_back(doc_score_reject_row(p));
    for (const auto& row : rows)
      EXPECT_NE(section.find("\n" + row + "\n"), std::string::npos)
          << p.name << ": docs/personas.md lacks the row (or it differs from the code):\n"
          << row;
  }
}

TEST(Persona, GoodMessageGoesToInboxEverywhere) {
  for (const auto& p : all_personas()) {
    StageRun r = run(p.name, good_checks(), good_facts());
    EXPECT_FALSE(r.verdict.reply) << p.name << ": " << r.verdict.reply->lines.front();
    EXPECT_EQ(r.verdict.disposition, Disposition::inbox) << p.name;
  }
}

TEST(Persona, ExpandFillsPlaceholders) {
  auto c = good_checks();
  c.dkim->result = Result::fail;
  EXPECT_EQ(expand("{ip} {domain} {from_domain} {helo} {id} {spf}/{dkim}/{dmarc}", good_facts(), c),
            "12.34.56.78 nodeseek.com nodeseek.com mx.nodeseek.com sim0001 Pass/Fail/Pass");
  Facts null_sender = good_facts();
  null_sender.mail_from = "";
  EXPECT_EQ(null_sender.mail_from_domain(), "mx.nodeseek.com");  // RFC 7208 §2.4
}

// --- gmail -------------------------------------------------------------------------------

TEST(Gmail, NoPtrIsRejectedAtRcptWith5725) {
  auto c = good_checks();
  c.iprev->result = Result::fail;
  c.iprev->ptr_names.clear();
  StageRun r = run("gmail", c, good_facts());
  EXPECT_EQ(r.stage, Stage::rcpt);
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.verdict.reply->code, 550);
  EXPECT_EQ(r.verdict.reply->enhanced, "5.7.25");
  EXPECT_EQ(r.verdict.reply->lines.front(),
            "This message was blocked because the sending IP address doesn't have a PTR record, "
            "or the forwarding DNS entry doesn't reference the sending IP address.");
  EXPECT_TRUE(r.verdict.reply->lines.back().ends_with(" sim0001 - gsmtp"));
  EXPECT_EQ(r.verdict.disposition, Disposition::rejected);
  ASSERT_EQ(r.hits.size(), 1u);
  EXPECT_EQ(r.hits[0].id, "gmail.ptr");
  EXPECT_NE(r.hits[0].source.find("support.google.com/a/answer/3726730"), std::string::npos);
  EXPECT_NE(r.hits[0].reply.find("550 5.7.25"), std::string::npos);
}

TEST(Gmail, PtrTemporaryFailureDefers) {
  auto c = good_checks();
  c.iprev->result = Result::temperror;
  StageRun r = run("gmail", c, good_facts());
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.verdict.reply->code, 451);
  EXPECT_EQ(r.verdict.reply->enhanced, "4.7.23");
  EXPECT_EQ(r.verdict.disposition, Disposition::deferred);
}

TEST(Gmail, Ipv6WithoutPtrGetsTheIpv6Text) {
  auto c = good_checks();
  c.iprev->result = Result::fail;
  auto f = good_facts();
  f.ipv6 = true;
  f.client_ip = "2001:db8::25";
  StageRun r = run("gmail", c, f);
  EXPECT_EQ(r.stage, Stage::data);
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.verdict.reply->code, 550);
  EXPECT_EQ(r.verdict.reply->enhanced, "5.7.1");
  EXPECT_EQ(r.verdict.reply->lines.front(),
            "This message does not meet IPv6 sending guidelines regarding PTR records and "
            "authentication.");
}

TEST(Gmail, SpfHardFailWithoutDkim) {
  auto c = good_checks();
  c.spf->result = Result::fail;
  c.dkim->signatures.clear();
  c.dkim->result = Result::none;
  c.dmarc->result = Result::fail;
  c.dmarc->policy = "none";  // so the DMARC rule does not answer first
  StageRun r = run("gmail", c, good_facts());
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.verdict.reply->code, 550);
  EXPECT_EQ(r.verdict.reply->enhanced, "5.7.26");
  EXPECT_EQ(r.verdict.reply->lines.front(),
            "The (E)MAIL FROM domain [nodeseek.com] has an SPF record with a hard fail policy "
            "(-all) but it fails to pass SPF checks with the ip: [12.34.56.78].");
  EXPECT_TRUE(r.fired("gmail.spf_hardfail"));
}

TEST(Gmail, NeitherSpfNorDkimIsUnauthenticated) {
  auto c = good_checks();
  c.spf->result = Result::none;
  c.dkim->signatures.clear();
  c.dmarc->result = Result::none;
  c.dmarc->record.reset();
  c.dmarc->policy = "";
  StageRun r = run("gmail", c, good_facts());
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.verdict.reply->summary().substr(0, 10), "550 5.7.26");
  EXPECT_EQ(r.verdict.reply->lines.front(),
            "This mail has been blocked because the sender is unauthenticated. Gmail requires "
            "all senders to authenticate with either SPF or DKIM.");
  const auto& l = r.verdict.reply->lines;
  EXPECT_NE(std::find(l.begin(), l.end(), " DKIM = did not pass"), l.end());
  EXPECT_NE(
      std::find(l.begin(), l.end(), " SPF [nodeseek.com] with ip: [12.34.56.78] = did not pass"),
      l.end());
  EXPECT_TRUE(l.back().ends_with("sim0001 - gsmtp"));
}

TEST(Gmail, DkimKeyUnder1024BitsDoesNotCount) {
  auto c = good_checks();
  c.spf->result = Result::softfail;
  c.dkim->signatures[0].key_bits = 512;
  c.dmarc->result = Result::fail;
  c.dmarc->policy = "none";
  StageRun r = run("gmail", c, good_facts());
  EXPECT_TRUE(r.fired("gmail.dkim_weak_key"));
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_TRUE(r.fired("gmail.unauthenticated"));
  // Same message with a 1024-bit key passes.
  c.dkim->signatures[0].key_bits = 1024;
  EXPECT_FALSE(run("gmail", c, good_facts()).verdict.reply);
}

TEST(Gmail, DmarcFailUnderRejectOrQuarantine) {
  for (std::string policy : {"reject", "quarantine"}) {
    auto c = good_checks();
    c.spf->result = Result::fail;
    c.dkim->signatures[0].result = Result::fail;
    c.dmarc->result = Result::fail;
    c.dmarc->policy = policy;
    StageRun r = run("gmail", c, good_facts());
    ASSERT_TRUE(r.verdict.reply) << policy;
    EXPECT_EQ(r.verdict.reply->enhanced, "5.7.26");
    EXPECT_EQ(r.verdict.reply->lines.front(),
              "Unauthenticated email from nodeseek.com is not accepted due to domain's DMARC "
              "policy.");
    EXPECT_EQ(r.hits.back().id, "gmail.dmarc");
  }
}

TEST(Gmail, DmarcTemperrorDefers451) {
  auto c = good_checks();
  c.dmarc->result = Result::temperror;
  StageRun r = run("gmail", c, good_facts());
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.verdict.reply->code, 451);
  EXPECT_EQ(r.verdict.reply->enhanced, "4.7.26");
  EXPECT_EQ(r.verdict.disposition, Disposition::deferred);
}

TEST(Gmail, Rfc5322Failures) {
  auto c = good_checks();
  c.content->valid_message_id = false;
  StageRun r = run("gmail", c, good_facts());
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.verdict.reply->summary().substr(0, 9), "550 5.7.1");
  EXPECT_TRUE(r.verdict.reply->lines.front().starts_with(
      "Messages missing a valid Message-ID: header are not accepted."));

  c = good_checks();
  c.content->from_count = 0;
  r = run("gmail", c, good_facts());
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.hits.back().id, "gmail.rfc5322_from");
  EXPECT_EQ(r.verdict.reply->lines[1], "'From' header is missing.");

  c = good_checks();
  c.content->duplicated_headers = {"Subject"};
  r = run("gmail", c, good_facts());
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.hits.back().id, "gmail.rfc5322_duplicate");
}

TEST(Gmail, NoTlsGoesToSpamWithAFinding) {
  auto f = good_facts();
  f.tls = false;
  StageRun r = run("gmail", good_checks(), f);
  EXPECT_FALSE(r.verdict.reply);
  EXPECT_EQ(r.verdict.disposition, Disposition::spam);
  EXPECT_TRUE(r.fired("gmail.no_tls"));
}

TEST(Gmail, BlockListedIpIsDeferredForReputation) {
  auto c = good_checks();
  c.dnsbl->result = Result::fail;
  c.dnsbl->listings = {{"zen.spamhaus.org", "127.0.0.2", "SBL", ""}};
  StageRun r = run("gmail", c, good_facts());
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.verdict.reply->code, 421);
  EXPECT_EQ(r.verdict.reply->enhanced, "4.7.0");
  EXPECT_EQ(r.verdict.disposition, Disposition::deferred);
}

TEST(Gmail, BulkRules) {
  auto f = good_facts();
  f.bulk = true;
  EXPECT_FALSE(run("gmail", good_checks(), f).verdict.reply);

  struct Case {
    std::function<void(auth::CheckSet&, Facts&)> breakit;
    std::string enhanced;
  };
  std::vector<Case> cases = {
      {[](auth::CheckSet& c, Facts&) { c.spf->result = Result::neutral; }, "5.7.27"},
      {[](auth::CheckSet& c, Facts&) { c.dkim->signatures.clear(); }, "5.7.30"},
      {[](auth::CheckSet&, Facts& ff) { ff.tls = false; }, "5.7.29"},
      {[](auth::CheckSet& c, Facts&) {
         c.dmarc->record.reset();
         c.dmarc->result = Result::none;
       },
       "5.7.40"},
      {[](auth::CheckSet& c, Facts&) { c.dmarc->spf_aligned = c.dmarc->dkim_aligned = false; },
       "5.7.32"},
  };
  for (const auto& k : cases) {
    auto c = good_checks();
    auto ff = f;
    k.breakit(c, ff);
    StageRun r = run("gmail", c, ff);
    ASSERT_TRUE(r.verdict.reply) << k.enhanced;
    EXPECT_EQ(r.verdict.reply->code, 550) << k.enhanced;
    EXPECT_EQ(r.verdict.reply->enhanced, k.enhanced);
  }
  auto c = good_checks();
  c.content->one_click = false;
  StageRun r = run("gmail", c, f);
  EXPECT_FALSE(r.verdict.reply);
  EXPECT_EQ(r.verdict.disposition, Disposition::spam);
  EXPECT_TRUE(r.fired("gmail.bulk_one_click"));
  // Not bulk: a missing one-click header is no finding.
  EXPECT_FALSE(run("gmail", c, good_facts()).fired("gmail.bulk_one_click"));
}

// --- outlook -----------------------------------------------------------------------------

TEST(Outlook, BadHeloRejectedAtHelo) {
  auto c = good_checks();
  c.helo->fqdn = false;
  c.helo->bare_ip = true;
  StageRun r = run("outlook", c, good_facts());
  EXPECT_EQ(r.stage, Stage::helo);
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.verdict.reply->summary(), "550 5.7.506 Access Denied, Bad HELO");
}

TEST(Outlook, BlockListsAnswerAtMailFrom) {
  auto c = good_checks();
  c.dnsbl->result = Result::fail;
  c.dnsbl->listings = {{"zen.spamhaus.org", "127.0.0.2", "SBL", ""}};
  StageRun r = run("outlook", c, good_facts());
  EXPECT_EQ(r.stage, Stage::mail);
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.verdict.reply->enhanced, "5.7.1");
  EXPECT_EQ(r.verdict.reply->lines.front(),
            "Service unavailable, Client host [12.34.56.78] blocked using Spamhaus. To request "
            "removal from this list see https://www.spamhaus.org/query/ip/12.34.56.78 (AS3130).");
  c.dnsbl->listings = {{"bl.example", "127.0.0.2", "", ""}};
  r = run("outlook", c, good_facts());
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_NE(r.verdict.reply->lines.front().find("on our block list (S3150)"), std::string::npos);
  EXPECT_TRUE(r.verdict.reply->lines.front().starts_with(
      "Unfortunately, messages from [12.34.56.78] weren't sent."));
}

TEST(Outlook, DmarcRejectIs5709) {
  auto c = good_checks();
  c.spf->result = Result::fail;
  c.dkim->signatures[0].result = Result::fail;
  c.dmarc->result = Result::fail;
  StageRun r = run("outlook", c, good_facts());
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.verdict.reply->code, 550);
  EXPECT_EQ(r.verdict.reply->enhanced, "5.7.509");
  EXPECT_EQ(r.verdict.reply->lines.front(),
            "Access denied, sending domain [nodeseek.com] does not pass DMARC verification and "
            "has a DMARC policy of reject.");
}

TEST(Outlook, HighVolumeNeedsAllThree) {
  auto c = good_checks();
  c.dkim->result = Result::fail;
  c.dkim->signatures[0].result = Result::fail;
  auto f = good_facts();
  f.bulk = true;
  StageRun r = run("outlook", c, f);
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.verdict.reply->enhanced, "5.7.515");
  EXPECT_TRUE(r.verdict.reply->lines.front().starts_with(
      "Access denied, sending domain [nodeseek.com] doesn't meet the required authentication "
      "level."));
  EXPECT_TRUE(r.verdict.reply->lines.front().ends_with("Spf= Pass , Dkim= Fail , DMARC= Pass"));
  // The same message, not bulk, is accepted.
  EXPECT_FALSE(run("outlook", c, good_facts()).verdict.reply);
}

TEST(Outlook, MissingPtrIsJunkNotReject) {
  auto c = good_checks();
  c.iprev->result = Result::fail;
  c.iprev->ptr_names.clear();
  StageRun r = run("outlook", c, good_facts());
  EXPECT_FALSE(r.verdict.reply);
  EXPECT_EQ(r.verdict.disposition, Disposition::spam);
  EXPECT_TRUE(r.fired("outlook.rdns"));
  // IPv6 without rDNS is refused at RCPT with 5.7.25.
  auto f = good_facts();
  f.ipv6 = true;
  f.client_ip = "2001:db8::25";
  r = run("outlook", c, f);
  EXPECT_EQ(r.stage, Stage::rcpt);
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.verdict.reply->summary(),
            "550 5.7.25 Access denied, the sending IPv6 address [2001:db8::25] must have a "
            "reverse DNS record.");
}

TEST(Outlook, FromAndSpf) {
  auto c = good_checks();
  c.content->from_count = 2;
  StageRun r = run("outlook", c, good_facts());
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.verdict.reply->enhanced, "5.7.512");
  c = good_checks();
  c.spf->result = Result::fail;
  c.dkim->signatures.clear();
  c.dmarc->result = Result::fail;
  c.dmarc->policy = "none";
  r = run("outlook", c, good_facts());
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.verdict.reply->enhanced, "5.7.23");
}

// --- yahoo -------------------------------------------------------------------------------

TEST(Yahoo, SpamhausRefusedAtConnect) {
  auto c = good_checks();
  c.dnsbl->result = Result::fail;
  c.dnsbl->listings = {{"zen.spamhaus.org", "127.0.0.4", "XBL", ""}};
  StageRun r = run("yahoo", c, good_facts());
  EXPECT_EQ(r.stage, Stage::connect);
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.verdict.reply->code, 553);
  EXPECT_EQ(r.verdict.reply->enhanced, "5.7.1");
  EXPECT_TRUE(r.verdict.reply->lines.front().starts_with(
      "[BL21] Connections will not be accepted from 12.34.56.78, because the ip is in "
      "Spamhaus's list"));
}

TEST(Yahoo, NoReverseDnsDefersAtMailFrom) {
  auto c = good_checks();
  c.iprev->result = Result::fail;
  StageRun r = run("yahoo", c, good_facts());
  EXPECT_EQ(r.stage, Stage::mail);
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.verdict.reply->code, 421);
  EXPECT_TRUE(r.verdict.reply->lines.front().starts_with(
      "[TSS04] Messages from 12.34.56.78 temporarily deferred due to unexpected volume or user "
      "complaints"));
  EXPECT_EQ(r.verdict.disposition, Disposition::deferred);
}

TEST(Yahoo, UnauthenticatedAndDmarc) {
  auto c = good_checks();
  c.spf->result = Result::softfail;
  c.dkim->signatures.clear();
  c.dmarc->result = Result::fail;
  c.dmarc->policy = "none";
  StageRun r = run("yahoo", c, good_facts());
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.verdict.reply->code, 550);
  EXPECT_EQ(r.verdict.reply->enhanced, "5.7.9");
  EXPECT_TRUE(r.verdict.reply->lines.front().starts_with(
      "This mail has been blocked because the sender is unauthenticated. Yahoo requires all "
      "senders to authenticate with either SPF or DKIM."));
  c.dmarc->policy = "reject";
  r = run("yahoo", c, good_facts());
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.verdict.reply->code, 554);
  EXPECT_TRUE(
      r.verdict.reply->lines.front().starts_with("Message not accepted for policy reasons."));
}

// --- mailtester --------------------------------------------------------------------------

TEST(Mailtester, PerfectMessageScoresTen) {
  StageRun r = run("mailtester", good_checks(), good_facts());
  EXPECT_DOUBLE_EQ(r.score, 10.0);
  EXPECT_EQ(r.verdict.disposition, Disposition::inbox);
  EXPECT_TRUE(r.fired("SPF_PASS"));
  EXPECT_TRUE(r.fired("DKIM_VALID_AU"));
}

TEST(Mailtester, NamesEveryDeduction) {
  auto c = good_checks();
  c.iprev->result = Result::fail;
  c.iprev->ptr_names.clear();
  c.helo->matches_ptr = false;
  c.spf->result = Result::fail;
  c.dkim->signatures.clear();
  c.dkim->result = Result::none;
  c.dmarc->result = Result::fail;
  c.dmarc->spf_aligned = c.dmarc->dkim_aligned = false;
  c.mx->result = Result::fail;
  c.content->body_length = 4;
  StageRun r = run("mailtester", c, good_facts());
  std::vector<std::string> ids;
  for (const auto& h : r.hits) ids.push_back(h.id);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"DMARC_REJECT", "MT_BODY_TOO_SHORT", "MT_NO_DKIM",
                                           "MT_NO_MAIL_SERVER", "MT_SPF_FAILURE", "RDNS_NONE",
                                           "SPF_FAIL"}));
  EXPECT_NEAR(r.score, 10 - 1.274 - 0.919 - 1 - 1 - 1.797 - 3 - 0.5, 1e-9);
  EXPECT_EQ(r.verdict.disposition, Disposition::spam);  // 0.51 < 5
  for (const auto& h : r.hits) EXPECT_LT(h.points, 0) << h.id;
  EXPECT_NE(persona("mailtester").score_formula.find("10 - max(0, sum"), std::string::npos);
}

// RFC 6376 §6.1: bad signatures and no good one = unsigned, so mail-tester's "not signed
// with DKIM" applies to a truncated or unpublished key too.
TEST(Mailtester, FailingDkimSignatureCountsAsNotSigned) {
  auto c = good_checks();
  c.dkim->result = Result::permerror;
  c.dkim->signatures[0].result = Result::permerror;
  StageRun r = run("mailtester", c, good_facts());
  EXPECT_TRUE(r.fired("MT_NO_DKIM"));
  EXPECT_TRUE(r.fired("DKIM_SIGNED"));
  EXPECT_TRUE(r.fired("DKIM_INVALID"));
  EXPECT_FALSE(r.fired("DKIM_VALID"));
  EXPECT_NEAR(r.score, 10 - 0.1 - 0.1 + 0.001 + 0.001 - 1, 1e-9);  // SPF/DMARC pass remain

  c.dkim->signatures[0].result = Result::fail;  // body hash or signature mismatch
  EXPECT_TRUE(run("mailtester", c, good_facts()).fired("MT_NO_DKIM"));
  c.dkim->signatures.clear();  // unsigned
  c.dkim->result = Result::none;
  r = run("mailtester", c, good_facts());
  EXPECT_TRUE(r.fired("MT_NO_DKIM"));
  EXPECT_FALSE(r.fired("DKIM_SIGNED"));
  EXPECT_FALSE(run("mailtester", good_checks(), good_facts()).fired("MT_NO_DKIM"));
}

// RFC 7208 §2.6: fail/softfail/permerror/temperror leave the server unauthorized; §8.2:
// neutral is treated exactly like none, which is not an SPF *failure*.
TEST(Mailtester, SpfFailureMeansFailSoftfailPermerrorTemperror) {
  for (Result res : {Result::fail, Result::softfail, Result::permerror, Result::temperror}) {
    auto c = good_checks();
    c.spf->result = res;
    EXPECT_TRUE(run("mailtester", c, good_facts()).fired("MT_SPF_FAILURE")) << to_string(res);
  }
  for (Result res : {Result::pass, Result::neutral, Result::none}) {
    auto c = good_checks();
    c.spf->result = res;
    EXPECT_FALSE(run("mailtester", c, good_facts()).fired("MT_SPF_FAILURE")) << to_string(res);
  }
}

// SpamAssassin's negative points (DKIM_VALID…) bring its part to 0 at best; they do not buy
// back the tester's own deductions: two v=spf1 records (permerror) with DKIM passing is 9.0,
// not 9.2.
TEST(Mailtester, SpamAssassinBonusDoesNotOffsetOwnDeductions) {
  auto c = good_checks();
  c.spf->result = Result::permerror;
  StageRun r = run("mailtester", c, good_facts());
  EXPECT_TRUE(r.fired("DKIM_VALID_AU"));
  EXPECT_DOUBLE_EQ(r.score, 9.0);
  // …while a positive SpamAssassin total is deducted in full, bonuses included.
  c = good_checks();
  c.iprev->result = Result::fail;
  c.iprev->ptr_names.clear();
  r = run("mailtester", c, good_facts());
  EXPECT_NEAR(r.score, 10 - (1.274 + 0.1 - 0.1 - 0.1 - 0.1 - 0.001 - 0.001), 1e-9);
}

TEST(Mailtester, NoMailServerCostsThree) {
  auto c = good_checks();
  c.mx->result = Result::fail;
  c.mx->usable_host.clear();
  c.mx->hosts[0].addresses = {"104.21.48.10"};
  StageRun r = run("mailtester", c, good_facts());
  EXPECT_TRUE(r.fired("MT_NO_MAIL_SERVER"));
  EXPECT_DOUBLE_EQ(r.score, 7.0);
  c.mx->result = Result::permerror;
  EXPECT_TRUE(run("mailtester", c, good_facts()).fired("MT_NO_MAIL_SERVER"));
  c.mx->result = Result::temperror;  // nothing learned: no deduction
  EXPECT_FALSE(run("mailtester", c, good_facts()).fired("MT_NO_MAIL_SERVER"));
  c.mx.reset();  // not run (no From domain)
  EXPECT_FALSE(run("mailtester", c, good_facts()).fired("MT_NO_MAIL_SERVER"));
  // The corporate filter (SpamAssassin) has no such rule.
  c = good_checks();
  c.mx->result = Result::fail;
  EXPECT_EQ(run("corporate", c, good_facts()).score,
            run("corporate", good_checks(), good_facts()).score);
}

TEST(Mailtester, ShortBodyLosesHalfAPointEmptyBodyIsSpamAssassins) {
  auto c = good_checks();
  c.content->body_length = 4;  // "test"
  StageRun r = run("mailtester", c, good_facts());
  EXPECT_TRUE(r.fired("MT_BODY_TOO_SHORT"));
  EXPECT_DOUBLE_EQ(r.score, 9.5);
  EXPECT_EQ(r.verdict.disposition, Disposition::inbox);
  c.content->body_length = 31;
  EXPECT_TRUE(run("mailtester", c, good_facts()).fired("MT_BODY_TOO_SHORT"));
  c.content->body_length = 32;
  EXPECT_FALSE(run("mailtester", c, good_facts()).fired("MT_BODY_TOO_SHORT"));
  c.content->body_length = 0;
  c.content->empty_body = true;
  r = run("mailtester", c, good_facts());
  EXPECT_FALSE(r.fired("MT_BODY_TOO_SHORT"));
  EXPECT_TRUE(r.fired("EMPTY_MESSAGE"));
}

// Postfix (mail-tester's and the corporate MTA) writes "unknown" in Received: unless the PTR
// forward-confirms, and SpamAssassin reads that as no rDNS: a PTR that does not resolve back
// (the Cloudflare-proxied mx host) fires RDNS_NONE just like a missing PTR.
TEST(Mailtester, RdnsNoneWhenThePtrDoesNotForwardConfirm) {
  auto c = good_checks();
  c.iprev->result = Result::fail;  // PTR → mx.nodeseek.com → 104.21.48.10
  c.iprev->verified_name.clear();
  EXPECT_TRUE(run("mailtester", c, good_facts()).fired("RDNS_NONE"));
  EXPECT_TRUE(run("corporate", c, good_facts()).fired("RDNS_NONE"));
  c.iprev->result = Result::temperror;
  EXPECT_TRUE(run("corporate", c, good_facts()).fired("RDNS_NONE"));
  EXPECT_FALSE(run("corporate", good_checks(), good_facts()).fired("RDNS_NONE"));
}

// --- corporate ---------------------------------------------------------------------------

TEST(Corporate, GoodMessageHasNegativeScore) {
  StageRun r = run("corporate", good_checks(), good_facts());
  EXPECT_NEAR(r.score, -0.001 + 0.1 - 0.1 - 0.1 - 0.1 - 0.001, 1e-9);
  EXPECT_EQ(r.verdict.disposition, Disposition::inbox);
}

TEST(Corporate, SpamAtFiveRejectAtFifteen) {
  auto c = good_checks();
  c.iprev->result = Result::fail;
  c.iprev->ptr_names.clear();
  c.spf->result = Result::fail;
  c.dkim->signatures.clear();
  c.dmarc->result = Result::fail;
  c.content->has_date = false;
  StageRun r = run("corporate", c, good_facts());
  EXPECT_NEAR(r.score, 1.274 + 0.919 + 1.797 + 1.396, 1e-9);
  EXPECT_FALSE(r.verdict.reply);
  EXPECT_EQ(r.verdict.disposition, Disposition::spam);
  for (std::string id : {"RDNS_NONE", "SPF_FAIL", "DMARC_REJECT", "MISSING_DATE"})
    EXPECT_TRUE(r.fired(id)) << id;

  c.helo->localhost = true;
  c.helo->fqdn = c.helo->resolves = false;
  c.spf_helo->result = Result::none;
  c.dnsbl->result = Result::fail;
  c.dnsbl->listings = {{"zen.spamhaus.org", "127.0.0.2", "SBL", ""},
                       {"zen.spamhaus.org", "127.0.0.10", "PBL", ""}};
  c.content->empty_body = true;
  r = run("corporate", c, good_facts());
  EXPECT_NEAR(r.score, 1.274 + 0.919 + 1.797 + 1.396 + 3.603 + 0.001 + 2.596 + 3.558 + 2.344, 1e-9);
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.verdict.reply->code, 550);
  EXPECT_EQ(r.verdict.reply->enhanced, "5.7.1");
  EXPECT_EQ(r.verdict.reply->lines.front(),
            "Message rejected as spam (score 17.488, reject threshold 15)");
  EXPECT_EQ(r.verdict.disposition, Disposition::rejected);
  EXPECT_TRUE(r.fired("score.reject"));
}

}  // namespace
}  // namespace mailsim::personas
