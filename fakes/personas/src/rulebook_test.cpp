// Every rule of every rulebook, one row each: a hand-built input that triggers it, and what
// the persona must then say, written out literally (code, enhanced code, every reply line
// after placeholder expansion, stage, disposition, points). Nothing here is read from the
// rule tables, so a changed text or score fails a row; RulebookTable.CoversEveryRule fails
// when a rule has no row.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <iterator>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mailsim/personas/persona.hpp"
#include "persona_test_inputs.hpp"

namespace mailsim::personas {
namespace {

using namespace test_inputs;

using Change = std::function<void(auth::CheckSet&, Facts&)>;

// The verdict a replying rule must produce.
struct ExpectedReply {
  int code = 0;
  std::string enhanced;
  std::vector<std::string> lines;
};

struct Row {
  std::string persona;
  std::string rule;
  Change change;  // applied to good_checks() / good_facts()
  Stage stage = Stage::data;
  // A replying rule: the transaction's final verdict. A finding: what the rule asks for
  // (inbox = nothing) and, when nothing else replies, the message's disposition.
  Disposition disposition = Disposition::inbox;
  std::optional<ExpectedReply> reply;
  double points = 0;
};

// --- small builders for the changes ------------------------------------------------------

void no_dkim(auth::CheckSet& c) {
  c.dkim->signatures.clear();
  c.dkim->result = Result::none;
}
void dkim_fails(auth::CheckSet& c) {
  c.dkim->signatures[0].result = Result::fail;
  c.dkim->result = Result::fail;
}
void dmarc_fails(auth::CheckSet& c, std::string policy) {
  c.dmarc->result = Result::fail;
  c.dmarc->policy = std::move(policy);
  c.dmarc->spf_aligned = c.dmarc->dkim_aligned = false;
}
void no_dmarc(auth::CheckSet& c) {
  c.dmarc->result = Result::none;
  c.dmarc->record.reset();
  c.dmarc->policy = "";
  c.dmarc->spf_aligned = c.dmarc->dkim_aligned = false;
}
void listed(auth::CheckSet& c, std::string zone, std::string list) {
  c.dnsbl->result = Result::fail;
  c.dnsbl->listings = {{std::move(zone), "127.0.0.2", std::move(list), ""}};
}
void no_ptr(auth::CheckSet& c) {
  c.iprev->result = Result::fail;
  c.iprev->ptr_names.clear();
  c.iprev->verified_name.clear();
}
void ipv6(Facts& f) {
  f.ipv6 = true;
  f.client_ip = "2001:db8::25";
}

constexpr const char* kTss04 =
    "[TSS04] Messages from 12.34.56.78 temporarily deferred due to unexpected volume or user "
    "complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes";
constexpr const char* kYahooPolicy =
    "Message not accepted for policy reasons.  See https://postmaster.yahooinc.com/error-codes";

std::vector<Row> first_match_rows() {
  const Stage data = Stage::data;
  const auto rejected = Disposition::rejected;
  const auto deferred = Disposition::deferred;
  const auto spam = Disposition::spam;
  return {
      // --- gmail ---------------------------------------------------------------------------
      {"gmail", "gmail.ptr_temperror",
       [](auth::CheckSet& c, Facts&) { c.iprev->result = Result::temperror; }, Stage::rcpt,
       deferred,
       ExpectedReply{451,
                     "4.7.23",
                     {"This message was temporarily deferred because the sending IP address "
                      "doesn't have a PTR record, or the PTR record's forward DNS entry doesn't "
                      "match the sending IP address.",
                      "For more information, go to",
                      " https://support.google.com/mail/answer/81126#ip-practices sim0001 - "
                      "gsmtp"}}},
      {"gmail", "gmail.ptr", [](auth::CheckSet& c, Facts&) { no_ptr(c); }, Stage::rcpt, rejected,
       ExpectedReply{550,
                     "5.7.25",
                     {"This message was blocked because the sending IP address doesn't have a "
                      "PTR record, or the forwarding DNS entry doesn't reference the sending IP "
                      "address.",
                      "For more information, go to",
                      " https://support.google.com/mail/answer/81126#ip-practices sim0001 - "
                      "gsmtp"}}},
      // SPF still passes, so the weak key is only a finding.
      {"gmail", "gmail.dkim_weak_key",
       [](auth::CheckSet& c, Facts&) { c.dkim->signatures[0].key_bits = 512; }, data,
       Disposition::inbox, std::nullopt},
      {"gmail", "gmail.reputation",
       [](auth::CheckSet& c, Facts&) { listed(c, "zen.spamhaus.org", "SBL"); }, data, deferred,
       ExpectedReply{421,
                     "4.7.0",
                     {"This message is suspicious due to the very low reputation of the sending "
                      "IP address.",
                      "To protect our users from spam, mail sent from your IP address has been "
                      "temporarily rate limited. For more information, go to",
                      " https://support.google.com/mail/answer/188131 sim0001 - gsmtp"}}},
      {"gmail", "gmail.ipv6",
       [](auth::CheckSet& c, Facts& f) {
         no_ptr(c);
         ipv6(f);
       },
       data, rejected,
       ExpectedReply{550,
                     "5.7.1",
                     {"This message does not meet IPv6 sending guidelines regarding PTR records "
                      "and authentication.",
                      "For more information, go to",
                      " https://support.google.com/mail/?p=IPv6AuthError sim0001 - gsmtp"}}},
      {"gmail", "gmail.dmarc_temperror",
       [](auth::CheckSet& c, Facts&) { c.dmarc->result = Result::temperror; }, data, deferred,
       ExpectedReply{451,
                     "4.7.26",
                     {"Unauthenticated email from nodeseek.com is not accepted due to domain's "
                      "DMARC policy.",
                      "A temporary DNS error prevented the policy check; please try again later. "
                      "sim0001 - gsmtp"}}},
      // SPF temperror, unsigned, and the domain's p=reject: deferred, not refused for good.
      {"gmail", "gmail.unauthenticated_temporary",
       [](auth::CheckSet& c, Facts&) {
         c.spf->result = Result::temperror;
         no_dkim(c);
         dmarc_fails(c, "reject");
       },
       data, deferred,
       ExpectedReply{421,
                     "4.7.26",
                     {"This mail has been rate limited because it is unauthenticated. Gmail "
                      "requires all senders to authenticate with either SPF or DKIM.",
                      "", "Authentication results:", " DKIM = did not pass",
                      " SPF [nodeseek.com] with ip: [12.34.56.78] = did not pass", "",
                      " For instructions on setting up authentication, go to",
                      " https://support.google.com/mail/answer/81126#authentication sim0001 - "
                      "gsmtp"}}},
      {"gmail", "gmail.dmarc",
       [](auth::CheckSet& c, Facts&) {
         c.spf->result = Result::fail;
         dkim_fails(c);
         dmarc_fails(c, "reject");
       },
       data, rejected,
       ExpectedReply{550,
                     "5.7.26",
                     {"Unauthenticated email from nodeseek.com is not accepted due to domain's "
                      "DMARC policy.",
                      "Please contact the administrator of nodeseek.com domain if this was a "
                      "legitimate mail.",
                      "To learn about the DMARC initiative, go to",
                      " https://support.google.com/mail/?p=DmarcRejection sim0001 - gsmtp"}}},
      {"gmail", "gmail.spf_hardfail",
       [](auth::CheckSet& c, Facts&) {
         c.spf->result = Result::fail;
         no_dkim(c);
         dmarc_fails(c, "none");
       },
       data, rejected,
       ExpectedReply{550,
                     "5.7.26",
                     {"The (E)MAIL FROM domain [nodeseek.com] has an SPF record with a hard fail "
                      "policy (-all) but it fails to pass SPF checks with the ip: [12.34.56.78].",
                      "To best protect our users from spam and phishing, the message has been "
                      "blocked.",
                      "For more information, go to",
                      " https://support.google.com/mail/answer/81126#authentication sim0001 - "
                      "gsmtp"}}},
      {"gmail", "gmail.unauthenticated",
       [](auth::CheckSet& c, Facts&) {
         c.spf->result = Result::none;
         no_dkim(c);
         no_dmarc(c);
       },
       data, rejected,
       ExpectedReply{550,
                     "5.7.26",
                     {"This mail has been blocked because the sender is unauthenticated. Gmail "
                      "requires all senders to authenticate with either SPF or DKIM.",
                      "", "Authentication results:", " DKIM = did not pass",
                      " SPF [nodeseek.com] with ip: [12.34.56.78] = did not pass", "",
                      " For instructions on setting up authentication, go to",
                      " https://support.google.com/mail/answer/81126#authentication sim0001 - "
                      "gsmtp"}}},
      {"gmail", "gmail.rfc5322_from", [](auth::CheckSet& c, Facts&) { c.content->from_count = 0; },
       data, rejected,
       ExpectedReply{550,
                     "5.7.1",
                     {"Our system has detected that this message is not RFC 5322 compliant:",
                      "'From' header is missing.",
                      "To reduce the amount of spam sent to Gmail, this message has been "
                      "blocked. For more information, go to",
                      " https://support.google.com/mail/?p=RfcMessageNonCompliant sim0001 - "
                      "gsmtp"}}},
      {"gmail", "gmail.rfc5322_message_id",
       [](auth::CheckSet& c, Facts&) { c.content->valid_message_id = false; }, data, rejected,
       ExpectedReply{550,
                     "5.7.1",
                     {"Messages missing a valid Message-ID: header are not accepted. For more "
                      "information, go to",
                      " https://support.google.com/mail/?p=RfcMessageNonCompliant sim0001 - "
                      "gsmtp"}}},
      {"gmail", "gmail.rfc5322_duplicate",
       [](auth::CheckSet& c, Facts&) { c.content->duplicated_headers = {"Subject"}; }, data,
       rejected,
       ExpectedReply{550,
                     "5.7.1",
                     {"Our system has detected that this message is not RFC 5322 compliant:",
                      "Duplicate single-instance headers found.",
                      "To reduce the amount of spam sent to Gmail, this message has been "
                      "blocked. For more information, go to",
                      " https://support.google.com/mail/?p=RfcMessageNonCompliant sim0001 - "
                      "gsmtp"}}},
      {"gmail", "gmail.bulk_spf",
       [](auth::CheckSet& c, Facts& f) {
         f.bulk = true;
         c.spf->result = Result::neutral;
       },
       data, rejected,
       ExpectedReply{550,
                     "5.7.27",
                     {"This mail has been blocked because the sender is unauthenticated. Gmail "
                      "requires bulk email senders to authenticate their email with SPF.",
                      "For more information, go to",
                      " https://support.google.com/mail/answer/81126#authentication sim0001 - "
                      "gsmtp"}}},
      {"gmail", "gmail.bulk_dkim",
       [](auth::CheckSet& c, Facts& f) {
         f.bulk = true;
         no_dkim(c);
       },
       data, rejected,
       ExpectedReply{550,
                     "5.7.30",
                     {"This mail has been blocked because it didn't pass DKIM authentication. "
                      "Gmail requires bulk email senders to authenticate their email with DKIM.",
                      "For more information, go to",
                      " https://support.google.com/mail/answer/81126#authentication sim0001 - "
                      "gsmtp"}}},
      {"gmail", "gmail.bulk_tls",
       [](auth::CheckSet&, Facts& f) {
         f.bulk = true;
         f.tls = false;
       },
       data, rejected,
       ExpectedReply{550,
                     "5.7.29",
                     {"This mail has been blocked because the sender isn't using a secure "
                      "connection. Gmail requires all bulk email senders to use TLS/SSL for SMTP "
                      "connections.",
                      "For more information, go to",
                      " https://support.google.com/mail/answer/81126 sim0001 - gsmtp"}}},
      {"gmail", "gmail.bulk_dmarc_record",
       [](auth::CheckSet& c, Facts& f) {
         f.bulk = true;
         c.dmarc->record.reset();
         c.dmarc->result = Result::none;
       },
       data, rejected,
       ExpectedReply{550,
                     "5.7.40",
                     {"This mail has been blocked because the sender domain nodeseek.com doesn't "
                      "have a DMARC record or the DMARC record doesn't specify a DMARC policy.",
                      "For more information, go to",
                      " https://support.google.com/mail/answer/81126#authentication sim0001 - "
                      "gsmtp"}}},
      {"gmail", "gmail.bulk_alignment",
       [](auth::CheckSet& c, Facts& f) {
         f.bulk = true;
         c.dmarc->spf_aligned = c.dmarc->dkim_aligned = false;
       },
       data, rejected,
       ExpectedReply{550,
                     "5.7.32",
                     {"This mail has been blocked because the sender's From: header isn't "
                      "aligned with either the authenticated SPF or DKIM organizational domain.",
                      "For more information, go to",
                      " https://support.google.com/mail/answer/81126#authentication sim0001 - "
                      "gsmtp"}}},
      {"gmail", "gmail.bulk_one_click",
       [](auth::CheckSet& c, Facts& f) {
         f.bulk = true;
         c.content->one_click = false;
       },
       data, spam, std::nullopt},
      {"gmail", "gmail.no_tls", [](auth::CheckSet&, Facts& f) { f.tls = false; }, data, spam,
       std::nullopt},

      // --- outlook -------------------------------------------------------------------------
      {"outlook", "outlook.bad_helo",
       [](auth::CheckSet& c, Facts&) {
         c.helo->fqdn = false;
         c.helo->bare_ip = true;
       },
       Stage::helo, rejected, ExpectedReply{550, "5.7.506", {"Access Denied, Bad HELO"}}},
      {"outlook", "outlook.spamhaus",
       [](auth::CheckSet& c, Facts&) { listed(c, "zen.spamhaus.org", "SBL"); }, Stage::mail,
       rejected,
       ExpectedReply{550,
                     "5.7.1",
                     {"Service unavailable, Client host [12.34.56.78] blocked using Spamhaus. To "
                      "request removal from this list see "
                      "https://www.spamhaus.org/query/ip/12.34.56.78 (AS3130)."}}},
      {"outlook", "outlook.blocklist",
       [](auth::CheckSet& c, Facts&) { listed(c, "bl.example", ""); }, Stage::mail, rejected,
       ExpectedReply{550,
                     "5.7.1",
                     {"Unfortunately, messages from [12.34.56.78] weren't sent. Please contact "
                      "your Internet service provider since part of their network is on our "
                      "block list (S3150). You can also refer your provider to "
                      "http://mail.live.com/mail/troubleshooting.aspx#errors."}}},
      {"outlook", "outlook.ipv6_rdns",
       [](auth::CheckSet& c, Facts& f) {
         no_ptr(c);
         ipv6(f);
       },
       Stage::rcpt, rejected,
       ExpectedReply{
           550,
           "5.7.25",
           {"Access denied, the sending IPv6 address [2001:db8::25] must have a reverse DNS "
            "record."}}},
      {"outlook", "outlook.from", [](auth::CheckSet& c, Facts&) { c.content->from_count = 2; },
       data, rejected,
       ExpectedReply{550,
                     "5.7.512",
                     {"Access denied, message must be RFC 5322 section 3.6.2 compliant and "
                      "include a valid From address."}}},
      {"outlook", "outlook.dmarc_reject",
       [](auth::CheckSet& c, Facts&) {
         c.spf->result = Result::fail;
         dkim_fails(c);
         dmarc_fails(c, "reject");
       },
       data, rejected,
       ExpectedReply{550,
                     "5.7.509",
                     {"Access denied, sending domain [nodeseek.com] does not pass DMARC "
                      "verification and has a DMARC policy of reject."}}},
      {"outlook", "outlook.high_volume",
       [](auth::CheckSet& c, Facts& f) {
         f.bulk = true;
         dkim_fails(c);
       },
       data, rejected,
       ExpectedReply{550,
                     "5.7.515",
                     {"Access denied, sending domain [nodeseek.com] doesn't meet the required "
                      "authentication level. The sender's domain in the 5322.From address "
                      "doesn't meet the authentication requirements defined for the sender. To "
                      "learn more about sending requirements, visit "
                      "https://aka.ms/sender-requirements. Spf= Pass , Dkim= Fail , DMARC= "
                      "Pass"}}},
      {"outlook", "outlook.spf_fail",
       [](auth::CheckSet& c, Facts&) {
         c.spf->result = Result::fail;
         no_dkim(c);
         dmarc_fails(c, "none");
       },
       data, rejected,
       ExpectedReply{550,
                     "5.7.23",
                     {"The message was rejected because of Sender Policy Framework violation"}}},
      {"outlook", "outlook.ipv6_unauthenticated",
       [](auth::CheckSet& c, Facts& f) {
         ipv6(f);
         c.spf->result = Result::none;
         no_dkim(c);
         no_dmarc(c);
       },
       data, deferred,
       ExpectedReply{450,
                     "4.7.26",
                     {"Service unavailable, message sent over IPv6 [2001:db8::25] must pass "
                      "either SPF or DKIM validation, this message is not signed"}}},
      {"outlook", "outlook.rdns", [](auth::CheckSet& c, Facts&) { no_ptr(c); }, data, spam,
       std::nullopt},
      {"outlook", "outlook.unauthenticated",
       [](auth::CheckSet& c, Facts&) {
         c.spf->result = Result::none;
         no_dkim(c);
         no_dmarc(c);
       },
       data, spam, std::nullopt},

      // --- yahoo ---------------------------------------------------------------------------
      {"yahoo", "yahoo.spamhaus",
       [](auth::CheckSet& c, Facts&) { listed(c, "zen.spamhaus.org", "XBL"); }, Stage::connect,
       rejected,
       ExpectedReply{553,
                     "5.7.1",
                     {"[BL21] Connections will not be accepted from 12.34.56.78, because the ip "
                      "is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes"}}},
      {"yahoo", "yahoo.fcrdns", [](auth::CheckSet& c, Facts&) { no_ptr(c); }, Stage::mail, deferred,
       ExpectedReply{421, "4.7.0", {kTss04}}},
      {"yahoo", "yahoo.from", [](auth::CheckSet& c, Facts&) { c.content->from_count = 0; }, data,
       rejected, ExpectedReply{554, "5.7.9", {kYahooPolicy}}},
      // SPF temperror, unsigned, and the domain's p=reject: deferred, not refused for good.
      {"yahoo", "yahoo.unauthenticated_temporary",
       [](auth::CheckSet& c, Facts&) {
         c.spf->result = Result::temperror;
         no_dkim(c);
         dmarc_fails(c, "reject");
       },
       data, deferred, ExpectedReply{421, "4.7.0", {kTss04}}},
      {"yahoo", "yahoo.dmarc_reject",
       [](auth::CheckSet& c, Facts&) {
         c.spf->result = Result::fail;
         dkim_fails(c);
         dmarc_fails(c, "reject");
       },
       data, rejected, ExpectedReply{554, "5.7.9", {kYahooPolicy}}},
      {"yahoo", "yahoo.unauthenticated",
       [](auth::CheckSet& c, Facts&) {
         c.spf->result = Result::softfail;
         no_dkim(c);
         dmarc_fails(c, "none");
       },
       data, rejected,
       ExpectedReply{550,
                     "5.7.9",
                     {"This mail has been blocked because the sender is unauthenticated. Yahoo "
                      "requires all senders to authenticate with either SPF or DKIM."}}},
      {"yahoo", "yahoo.bulk_auth",
       [](auth::CheckSet& c, Facts& f) {
         f.bulk = true;
         no_dkim(c);
       },
       data, deferred, ExpectedReply{421, "4.7.0", {kTss04}}},
      {"yahoo", "yahoo.bulk_dmarc",
       [](auth::CheckSet& c, Facts& f) {
         f.bulk = true;
         no_dmarc(c);
       },
       data, rejected, ExpectedReply{554, "5.7.9", {kYahooPolicy}}},
      // SPF and DKIM pass but not aligned: DMARC fails under quarantine → spam.
      {"yahoo", "yahoo.dmarc_quarantine",
       [](auth::CheckSet& c, Facts&) { dmarc_fails(c, "quarantine"); }, data, spam, std::nullopt},
      {"yahoo", "yahoo.bulk_one_click",
       [](auth::CheckSet& c, Facts& f) {
         f.bulk = true;
         c.content->one_click = false;
       },
       data, spam, std::nullopt},
  };
}

// SpamAssassin's rules with their 50_scores.cf set-1 points, as providers.md lists them.
// The corporate filter adds them; mail-tester shows them with flipped sign.
struct SaRow {
  std::string rule;
  Change change;
  Stage stage;
  double points;
};

std::vector<SaRow> spamassassin_rows() {
  auto helo_flag = [](bool auth::HeloResult::*flag, bool value) {
    return [flag, value](auth::CheckSet& c, Facts&) { (*c.helo).*flag = value; };
  };
  auto spf_helo = [](Result r) {
    return [r](auth::CheckSet& c, Facts&) { c.spf_helo->result = r; };
  };
  auto spf = [](Result r) { return [r](auth::CheckSet& c, Facts&) { c.spf->result = r; }; };
  auto dmarc = [](std::string p) { return [p](auth::CheckSet& c, Facts&) { dmarc_fails(c, p); }; };
  const Change good = [](auth::CheckSet&, Facts&) {};
  return {
      {"RDNS_NONE", [](auth::CheckSet& c, Facts&) { no_ptr(c); }, Stage::connect, 1.274},
      {"RCVD_IN_SBL", [](auth::CheckSet& c, Facts&) { listed(c, "zen.spamhaus.org", "SBL"); },
       Stage::connect, 2.596},
      {"RCVD_IN_XBL", [](auth::CheckSet& c, Facts&) { listed(c, "zen.spamhaus.org", "XBL"); },
       Stage::connect, 0.724},
      {"RCVD_IN_PBL", [](auth::CheckSet& c, Facts&) { listed(c, "zen.spamhaus.org", "PBL"); },
       Stage::connect, 3.558},
      {"RCVD_IN_BL_SPAMCOP_NET", [](auth::CheckSet& c, Facts&) { listed(c, "bl.spamcop.net", ""); },
       Stage::connect, 1.246},
      {"HELO_LOCALHOST", helo_flag(&auth::HeloResult::localhost, true), Stage::helo, 3.603},
      {"FSL_HELO_BARE_IP_1", helo_flag(&auth::HeloResult::bare_ip, true), Stage::helo, 1.426},
      {"RCVD_HELO_IP_MISMATCH", helo_flag(&auth::HeloResult::matches_client, false), Stage::helo,
       1.186},
      {"KHOP_HELO_FCRDNS", helo_flag(&auth::HeloResult::matches_ptr, false), Stage::helo, 0.4},
      {"SPF_HELO_NONE", spf_helo(Result::none), Stage::helo, 0.001},
      {"SPF_HELO_FAIL", spf_helo(Result::fail), Stage::helo, 0.001},
      {"SPF_HELO_SOFTFAIL", spf_helo(Result::softfail), Stage::helo, 0.896},
      {"SPF_PASS", good, Stage::mail, -0.001},
      {"SPF_FAIL", spf(Result::fail), Stage::mail, 0.919},
      {"SPF_SOFTFAIL", spf(Result::softfail), Stage::mail, 0.972},
      {"SPF_NEUTRAL", spf(Result::neutral), Stage::mail, 0.652},
      {"SPF_NONE", spf(Result::none), Stage::mail, 0.001},
      {"DKIM_SIGNED", good, Stage::data, 0.1},
      {"DKIM_INVALID", [](auth::CheckSet& c, Facts&) { dkim_fails(c); }, Stage::data, 0.1},
      {"DKIM_VALID", good, Stage::data, -0.1},
      {"DKIM_VALID_AU", good, Stage::data, -0.1},
      {"DKIM_VALID_EF", good, Stage::data, -0.1},
      {"DMARC_PASS", good, Stage::data, -0.001},
      {"DMARC_NONE", dmarc("none"), Stage::data, 0.898},
      {"DMARC_QUAR", dmarc("quarantine"), Stage::data, 1.198},
      {"DMARC_REJECT", dmarc("reject"), Stage::data, 1.797},
      {"DMARC_MISSING", [](auth::CheckSet& c, Facts&) { no_dmarc(c); }, Stage::data, 0.001},
      {"MISSING_DATE", [](auth::CheckSet& c, Facts&) { c.content->has_date = false; }, Stage::data,
       1.396},
      {"MISSING_MID", [](auth::CheckSet& c, Facts&) { c.content->has_message_id = false; },
       Stage::data, 0.140},
      {"MISSING_HEADERS", [](auth::CheckSet& c, Facts&) { c.content->has_to = false; }, Stage::data,
       1.207},
      {"EMPTY_MESSAGE",
       [](auth::CheckSet& c, Facts&) {
         c.content->empty_body = true;
         c.content->body_length = 0;
       },
       Stage::data, 2.344},
      {"MIME_HTML_ONLY", [](auth::CheckSet& c, Facts&) { c.content->html_only = true; },
       Stage::data, 0.1},
  };
}

std::vector<Row> score_rows() {
  std::vector<Row> rows;
  for (const auto& sa : spamassassin_rows()) {
    rows.push_back(
        {"corporate", sa.rule, sa.change, sa.stage, Disposition::inbox, std::nullopt, sa.points});
    rows.push_back(
        {"mailtester", sa.rule, sa.change, sa.stage, Disposition::inbox, std::nullopt, -sa.points});
  }
  // mail-tester's own deductions (providers.md "mail-tester.com"; the short body is ours).
  rows.push_back({"mailtester", "MT_SPF_FAILURE",
                  [](auth::CheckSet& c, Facts&) { c.spf->result = Result::fail; }, Stage::mail,
                  Disposition::inbox, std::nullopt, -1.0});
  rows.push_back({"mailtester", "MT_NO_DKIM", [](auth::CheckSet& c, Facts&) { no_dkim(c); },
                  Stage::data, Disposition::inbox, std::nullopt, -1.0});
  rows.push_back({"mailtester", "MT_NO_MAIL_SERVER",
                  [](auth::CheckSet& c, Facts&) { c.mx->result = Result::fail; }, Stage::data,
                  Disposition::inbox, std::nullopt, -3.0});
  rows.push_back({"mailtester", "MT_BODY_TOO_SHORT",
                  [](auth::CheckSet& c, Facts&) { c.content->body_length = 4; }, Stage::data,
                  Disposition::inbox, std::nullopt, -0.5});
  // The corporate filter's reject threshold: 1.274 + 2.596 + 3.558 + 3.603 + 0.919 + 1.797
  // + 1.396 + 2.344 + 0.001 (SPF_HELO_NONE) = 17.488 ≥ 15.
  rows.push_back(
      {"corporate", "score.reject",
       [](auth::CheckSet& c, Facts&) {
         no_ptr(c);
         c.dnsbl->result = Result::fail;
         c.dnsbl->listings = {{"zen.spamhaus.org", "127.0.0.2", "SBL", ""},
                              {"zen.spamhaus.org", "127.0.0.10", "PBL", ""}};
         c.helo->localhost = true;
         c.helo->fqdn = c.helo->resolves = false;
         c.spf_helo->result = Result::none;
         c.spf->result = Result::fail;
         no_dkim(c);
         dmarc_fails(c, "reject");
         c.content->has_date = false;
         c.content->empty_body = true;
       },
       Stage::data, Disposition::rejected,
       ExpectedReply{
           550, "5.7.1", {"Message rejected as spam (score 17.488, reject threshold 15)"}},
       0});
  return rows;
}

std::vector<Row> all_rows() {
  std::vector<Row> rows = first_match_rows();
  for (auto& r : score_rows()) rows.push_back(std::move(r));
  return rows;
}

const RuleHit* find_hit(const StageRun& run, const std::string& id) {
  for (const auto& h : run.hits)
    if (h.id == id) return &h;
  return nullptr;
}

std::string summary_of(const ExpectedReply& r) {
  std::string s = std::to_string(r.code) + " " + r.enhanced;
  for (const auto& l : r.lines) s += " " + l;
  return s;
}

TEST(RulebookTable, EveryRuleGivesExactlyItsDocumentedVerdict) {
  for (const Row& row : all_rows()) {
    SCOPED_TRACE(row.persona + " " + row.rule);
    auth::CheckSet checks = good_checks();
    Facts facts = good_facts();
    row.change(checks, facts);
    StageRun run = test_inputs::run(row.persona, checks, facts);
    const RuleHit* hit = find_hit(run, row.rule);
    ASSERT_NE(hit, nullptr) << "the rule did not fire";
    EXPECT_EQ(hit->stage, row.stage);
    EXPECT_DOUBLE_EQ(hit->points, row.points);
    EXPECT_FALSE(hit->source.empty());
    EXPECT_FALSE(hit->description.empty());
    if (row.reply) {
      // This rule answered: the run ended at its stage with exactly this reply.
      ASSERT_TRUE(run.verdict.reply);
      EXPECT_EQ(run.stage, row.stage);
      EXPECT_EQ(run.verdict.reply->code, row.reply->code);
      EXPECT_EQ(run.verdict.reply->enhanced, row.reply->enhanced);
      EXPECT_EQ(run.verdict.reply->lines, row.reply->lines);
      EXPECT_EQ(run.verdict.disposition, row.disposition);
      EXPECT_EQ(hit->disposition, row.disposition);
      EXPECT_EQ(hit->reply, summary_of(*row.reply));
      // …and it is the only hit that replied.
      int replied = 0;
      for (const auto& h : run.hits) replied += h.reply.empty() ? 0 : 1;
      EXPECT_EQ(replied, 1);
    } else {
      EXPECT_EQ(hit->disposition, row.disposition);
      EXPECT_TRUE(hit->reply.empty()) << hit->reply;
      if (row.persona != "corporate" && row.persona != "mailtester") {
        // A finding alone decides the first_match disposition when nothing replies.
        EXPECT_FALSE(run.verdict.reply) << run.verdict.reply->summary();
        EXPECT_EQ(run.verdict.disposition, row.disposition);
      }
    }
  }
}

// A new rule without a row above fails here.
TEST(RulebookTable, CoversEveryRule) {
  std::set<std::string> in_table, in_personas;
  for (const Row& row : all_rows()) {
    EXPECT_TRUE(in_table.insert(row.persona + " " + row.rule).second)
        << "two rows for " << row.persona << " " << row.rule;
  }
  for (const auto& p : all_personas()) {
    for (const auto& r : p.rules) in_personas.insert(p.name + " " + r.id);
    if (p.reject_threshold > 0) in_personas.insert(p.name + " score.reject");
  }
  std::vector<std::string> missing, extra;
  std::set_difference(in_personas.begin(), in_personas.end(), in_table.begin(), in_table.end(),
                      std::back_inserter(missing));
  std::set_difference(in_table.begin(), in_table.end(), in_personas.begin(), in_personas.end(),
                      std::back_inserter(extra));
  EXPECT_TRUE(missing.empty()) << "rules without a row: " << ::testing::PrintToString(missing);
  EXPECT_TRUE(extra.empty()) << "rows for no rule: " << ::testing::PrintToString(extra);
}

// The hit carries the page it comes from, as the rule states it.
TEST(RulebookTable, HitsCarryTheirSourcePage) {
  struct Source {
    std::string persona, rule, source;
  };
  const std::vector<Source> sources = {
      {"gmail", "gmail.ptr", "Gmail SMTP errors and codes, support.google.com/a/answer/3726730"},
      {"gmail", "gmail.no_tls", "Gmail sender guidelines, support.google.com/a/answer/81126"},
      {"outlook", "outlook.high_volume",
       "Microsoft, Outlook's new requirements for high-volume senders (2025-05-05), "
       "techcommunity.microsoft.com"},
      {"yahoo", "yahoo.unauthenticated_temporary",
       "Yahoo SMTP error codes, senders.yahooinc.com/smtp-error-codes (text as observed, "
       "sisimai)"},
      {"corporate", "SPF_FAIL",
       "SpamAssassin rules/50_scores.cf (score set 1), spamassassin.apache.org"},
      {"mailtester", "MT_NO_DKIM",
       "mail-tester.com observed deduction (providers.md; formula not published)"},
      {"corporate", "score.reject", "rspamd conf/actions.conf (reject = 15), rspamd.com"},
  };
  std::vector<Row> rows = all_rows();
  for (const auto& s : sources) {
    SCOPED_TRACE(s.persona + " " + s.rule);
    auto row = std::find_if(rows.begin(), rows.end(), [&](const Row& r) {
      return r.persona == s.persona && r.rule == s.rule;
    });
    ASSERT_NE(row, rows.end());
    auth::CheckSet checks = good_checks();
    Facts facts = good_facts();
    row->change(checks, facts);
    StageRun run = test_inputs::run(s.persona, checks, facts);
    const RuleHit* hit = find_hit(run, s.rule);
    ASSERT_NE(hit, nullptr);
    EXPECT_EQ(hit->source, s.source);
    if (persona(s.persona).model == ScoreModel::first_match && !hit->reply.empty()) {
      // The reply's cause names the rule's page too (reports quote it); a score reject's
      // cause is the formula instead.
      ASSERT_TRUE(run.verdict.reply);
      EXPECT_NE(run.verdict.reply->cause.find(s.source), std::string::npos)
          << run.verdict.reply->cause;
    }
  }
}

// first_match: after the replying rule, the stage's remaining findings are still recorded
// (they do not change the verdict); later replying rules are not.
TEST(FirstMatch, FindingsAfterTheReplyingRuleAreRecorded) {
  auto c = good_checks();
  no_ptr(c);
  c.spf->result = Result::fail;
  dkim_fails(c);
  dmarc_fails(c, "reject");
  StageRun r = run("outlook", c, good_facts());
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.verdict.reply->enhanced, "5.7.509");
  EXPECT_EQ(r.verdict.disposition, Disposition::rejected);
  std::vector<std::string> ids;
  for (const auto& h : r.verdict.fired) ids.push_back(h.id);
  // outlook.spf_fail (5.7.23) also matches but replies: not recorded.
  EXPECT_EQ(ids, (std::vector<std::string>{"outlook.dmarc_reject", "outlook.rdns",
                                           "outlook.unauthenticated"}));
  for (const auto& h : r.verdict.fired) {
    if (h.id == "outlook.dmarc_reject") {
      EXPECT_EQ(h.disposition, Disposition::rejected);
      EXPECT_FALSE(h.reply.empty());
    } else {
      EXPECT_EQ(h.disposition, Disposition::spam);  // what the finding asks for
      EXPECT_TRUE(h.reply.empty());
      EXPECT_FALSE(h.source.empty());
    }
  }

  // Gmail: the no-TLS finding comes after every reply rule.
  Facts f = good_facts();
  f.bulk = true;
  f.tls = false;
  r = run("gmail", good_checks(), f);
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.verdict.reply->enhanced, "5.7.29");
  EXPECT_EQ(r.verdict.disposition, Disposition::rejected);
  EXPECT_TRUE(r.fired("gmail.no_tls"));
  EXPECT_EQ(r.hits.back().id, "gmail.no_tls");
}

// Gmail: a temporary SPF or DKIM error defers an otherwise unauthenticated message (421
// 4.7.26); with SPF passing, a DKIM temperror changes nothing.
TEST(Gmail, UnauthenticatedTemporaryDefersOnlyWithoutAPass) {
  auto c = good_checks();
  auto f = good_facts();
  c.spf->result = Result::fail;
  c.dkim->signatures[0].result = Result::temperror;
  c.dkim->result = Result::temperror;
  dmarc_fails(c, "reject");
  StageRun r = run("gmail", c, f);
  ASSERT_TRUE(r.verdict.reply);
  EXPECT_EQ(r.verdict.reply->code, 421);
  EXPECT_EQ(r.verdict.reply->enhanced, "4.7.26");
  EXPECT_EQ(r.hits.back().id, "gmail.unauthenticated_temporary");

  c = good_checks();
  c.dkim->signatures[0].result = Result::temperror;
  c.dkim->result = Result::temperror;
  r = run("gmail", c, f);
  EXPECT_FALSE(r.verdict.reply) << r.verdict.reply->summary();
  EXPECT_FALSE(r.fired("gmail.unauthenticated_temporary"));
}

// Yahoo: an unauthenticated message is deferred with TSS04 when SPF or DKIM failed only for
// now (temperror), and refused with 550 5.7.9 when the failure is permanent.
TEST(Yahoo, UnauthenticatedTemporaryDefersPermanentRefuses) {
  struct Case {
    std::string what;
    Change change;
    std::string rule;
    int code;
  };
  const std::vector<Case> cases = {
      {"SPF temperror, unsigned",
       [](auth::CheckSet& c, Facts&) {
         c.spf->result = Result::temperror;
         no_dkim(c);
         dmarc_fails(c, "none");
       },
       "yahoo.unauthenticated_temporary", 421},
      {"SPF fail, DKIM key query temperror",
       [](auth::CheckSet& c, Facts&) {
         c.spf->result = Result::fail;
         c.dkim->signatures[0].result = Result::temperror;
         c.dkim->result = Result::temperror;
         dmarc_fails(c, "none");
       },
       "yahoo.unauthenticated_temporary", 421},
      {"SPF temperror, DKIM fail, p=reject",
       [](auth::CheckSet& c, Facts&) {
         c.spf->result = Result::temperror;
         dkim_fails(c);
         dmarc_fails(c, "reject");
       },
       "yahoo.unauthenticated_temporary", 421},
      {"SPF softfail, unsigned",
       [](auth::CheckSet& c, Facts&) {
         c.spf->result = Result::softfail;
         no_dkim(c);
         dmarc_fails(c, "none");
       },
       "yahoo.unauthenticated", 550},
      {"SPF none, DKIM permerror",
       [](auth::CheckSet& c, Facts&) {
         c.spf->result = Result::none;
         c.dkim->signatures[0].result = Result::permerror;
         c.dkim->result = Result::permerror;
         no_dmarc(c);
       },
       "yahoo.unauthenticated", 550},
      // SPF passes: a DKIM temperror alone is no reason to defer.
      {"SPF pass, DKIM temperror",
       [](auth::CheckSet& c, Facts&) {
         c.dkim->signatures[0].result = Result::temperror;
         c.dkim->result = Result::temperror;
       },
       "", 0},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.what);
    auto c = good_checks();
    auto f = good_facts();
    k.change(c, f);
    StageRun r = run("yahoo", c, f);
    if (k.code == 0) {
      EXPECT_FALSE(r.verdict.reply) << r.verdict.reply->summary();
      EXPECT_FALSE(r.fired("yahoo.unauthenticated_temporary"));
      continue;
    }
    ASSERT_TRUE(r.verdict.reply);
    EXPECT_EQ(r.stage, Stage::data);
    EXPECT_EQ(r.verdict.reply->code, k.code);
    EXPECT_EQ(r.hits.back().id, k.rule);
    if (k.code == 421) {
      EXPECT_EQ(r.verdict.reply->summary(), std::string("421 4.7.0 ") + kTss04);
      EXPECT_EQ(r.verdict.disposition, Disposition::deferred);
    } else {
      EXPECT_EQ(r.verdict.reply->enhanced, "5.7.9");
      EXPECT_EQ(r.verdict.disposition, Disposition::rejected);
    }
  }
}

}  // namespace
}  // namespace mailsim::personas
