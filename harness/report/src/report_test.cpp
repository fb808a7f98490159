#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mailsim/report/json.hpp"
#include "mailsim/report/junit.hpp"
#include "mailsim/report/model.hpp"
#include "mailsim/report/text.hpp"

namespace mailsim::report {
namespace {

using score::Direction;
using score::Disposition;

score::Outcome outcome(Direction d, std::string persona, Disposition disp) {
  score::Outcome o;
  o.scenario = "cloudflare-proxy-on";
  o.direction = d;
  o.persona = std::move(persona);
  o.disposition = disp;
  return o;
}

// A hand-made run: one scenario that passes, one with an unmet expectation, one error.
RunReport sample() {
  RunReport r;
  r.seed = 7;
  ScenarioReport ok;
  ok.name = "guide-baseline";
  ok.teaches = "The guide's setup, done right.";
  auto g = outcome(Direction::outbound, "gmail", Disposition::inbox);
  g.scenario = ok.name;
  auto mt = outcome(Direction::outbound, "mailtester", Disposition::inbox);
  mt.scenario = ok.name;
  mt.score = score::make_mailtester_score({});
  ok.outcomes = {g, mt};
  ok.expectations = score::evaluate_all(
      {{Direction::outbound, "all", "inbox", "scenarios/catalog/guide-baseline.yaml:9"},
       {Direction::outbound, "mailtester", ">= 9.5", ""}},
      ok.outcomes);

  ScenarioReport cf;
  cf.name = "cloudflare-proxy-on";
  cf.teaches = "Proxied records resolve to Cloudflare, which carries no SMTP.";
  auto cg = outcome(Direction::outbound, "gmail", Disposition::rejected);
  smtp::Reply reply;
  reply.code = 550;
  reply.enhanced = "5.7.25";
  reply.lines = {"The IP address sending this message does not have a PTR record <&> - gsmtp"};
  cg.reply = reply;
  cg.findings = {
      {score::FindingKind::fact, "dns", "", "A mx.nodeseek.com → 104.21.48.10 (Cloudflare)",
       "developers.cloudflare.com/dns/proxy-status"},
      {score::FindingKind::check, "iprev", "fail",
       "PTR 12.34.56.78 → mx.nodeseek.com: iprev=fail: forward → 104.21.48.10 ≠ 12.34.56.78",
       "RFC 8601 §3"},
      {score::FindingKind::verdict, "smtp", "", "gmail: 550 5.7.25 …",
       "support.google.com/a/answer/3726730"},
      {score::FindingKind::fix, "fix", "", "in your DNS panel, set the cloud icon of `mx` to DNS only",
       "posteio-guide §2"}};
  cg.fix = score::Fix{"proxy-on-mx", "in your DNS panel, set the cloud icon of `mx` to DNS only",
                      "posteio-guide §2"};
  cg.transcript = {"S: 220 mx.google.com ESMTP", "C: EHLO mx.nodeseek.com", "\x01 bad \xff byte"};
  auto cm = outcome(Direction::outbound, "mailtester", Disposition::inbox);
  cm.score = score::make_mailtester_score(
      {{"RDNS_MISMATCH", 1.5, "PTR forward mismatch", "mail-tester observed"}});
  auto ci = outcome(Direction::inbound, "gmail", Disposition::unreachable);
  cf.outcomes = {cg, cm, ci};
  cf.expectations = score::evaluate_all({{Direction::outbound, "gmail", "rejected", ""},
                                         {Direction::outbound, "mailtester", "<= 6", ""},
                                         {Direction::inbound, "all", "unreachable", ""},
                                         {Direction::inbound, "yahoo", "unreachable", ""}},
                                        cf.outcomes);

  ScenarioReport broken;
  broken.name = "typo";
  broken.error = "scenarios/catalog/typo.yaml:3: unknown breakage \"spf.sett\"";
  r.scenarios = {ok, cf, broken};
  return r;
}

TEST(Model, ColumnsAreOutboundFirstInPersonaOrder) {
  auto cols = columns(sample());
  ASSERT_EQ(cols.size(), 4u);
  EXPECT_EQ(cols[0].title(), "out:gmail");
  EXPECT_EQ(cols[1].title(), "out:mailtester");
  EXPECT_EQ(cols[2].title(), "in:gmail");
  EXPECT_EQ(cols[3].title(), "in:yahoo");  // only an expectation asked for it
}

TEST(Model, CellsCarryScoreAndUnmetExpectation) {
  auto r = sample();
  const auto& cf = r.scenarios[1];
  Cell mt = cell(cf, {Direction::outbound, "mailtester"});
  EXPECT_EQ(mt.text, "inbox 8.5");
  EXPECT_FALSE(mt.met);
  EXPECT_EQ(mt.expected, "<= 6");
  Cell g = cell(cf, {Direction::outbound, "gmail"});
  EXPECT_TRUE(g.met);
  Cell y = cell(cf, {Direction::inbound, "yahoo"});
  EXPECT_FALSE(y.present);
  EXPECT_FALSE(y.met);
  EXPECT_EQ(r.failed_scenarios(), 2);
  EXPECT_EQ(r.unmet(), 2);
  EXPECT_FALSE(r.passed());
  EXPECT_TRUE(r.scenarios[0].passed());
}

TEST(Text, TableMarksUnmetCellsAndHasNoColourUnlessAsked) {
  std::string t = render_table(sample());
  EXPECT_EQ(t.find('\x1b'), std::string::npos);
  EXPECT_NE(t.find("out:gmail"), std::string::npos);
  EXPECT_NE(t.find("✗ inbox 8.5 (want <= 6)"), std::string::npos);
  EXPECT_NE(t.find("inbox 10.0"), std::string::npos);
  EXPECT_NE(t.find("✗ error: scenarios/catalog/typo.yaml:3"), std::string::npos);
  EXPECT_NE(t.find("2 of 3 scenario(s) failed: 2 of"), std::string::npos);
  // Columns line up: "out:mailtester" starts at the same display column in every row.
  std::string coloured = render_table(sample(), {true});
  EXPECT_NE(coloured.find("\x1b[31m"), std::string::npos);
  EXPECT_EQ(display_width("\x1b[31m✗ x\x1b[0m"), 3u);
}

TEST(Text, ColumnsAlign) {
  RunReport r = sample();
  r.scenarios.pop_back();  // no error row
  std::string t = render_table(r);
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < t.size()) {
    auto nl = t.find('\n', start);
    lines.push_back(t.substr(start, nl - start));
    start = nl + 1;
  }
  auto col_of = [](const std::string& line, const std::string& needle) {
    auto pos = line.find(needle);
    return pos == std::string::npos ? std::string::npos : display_width(line.substr(0, pos));
  };
  auto header = col_of(lines[0], "out:mailtester");
  EXPECT_EQ(col_of(lines[1], "inbox 10.0"), header);
  EXPECT_EQ(col_of(lines[2], "✗ inbox 8.5"), header);
}

TEST(Text, ExplainShowsChainFixDeductionsTranscriptAndWhy) {
  auto r = sample();
  std::string e = render_explain(r.scenarios[1]);
  auto at = [&](const std::string& s) { return e.find(s); };
  ASSERT_NE(at("1. A mx.nodeseek.com → 104.21.48.10 (Cloudflare)"), std::string::npos);
  EXPECT_LT(at("1. A mx.nodeseek.com"), at("2. PTR 12.34.56.78"));
  EXPECT_LT(at("2. PTR 12.34.56.78"), at("3. gmail: 550"));
  EXPECT_LT(at("3. gmail: 550"), at("fix: in your DNS panel"));
  EXPECT_NE(at("[RFC 8601 §3]"), std::string::npos);
  EXPECT_NE(at("mailtester score: 8.5/10"), std::string::npos);
  EXPECT_NE(at("  -1.5  RDNS_MISMATCH"), std::string::npos);
  EXPECT_NE(at("C: EHLO mx.nodeseek.com"), std::string::npos);
  EXPECT_NE(at("✗ mailtester outbound: expected score <= 6.0, got 8.5"), std::string::npos);
  EXPECT_NE(at("✓ gmail outbound: expected rejected, got rejected (550 5.7.25"), std::string::npos);
  EXPECT_NE(at("FAILED (2 of 4 expectations unmet)"), std::string::npos);
}

TEST(Json, RoundTripsThroughTheDocumentedSchema) {
  std::string text = render_json(sample());
  auto j = nlohmann::json::parse(text);  // throws on malformed output
  EXPECT_EQ(j["schema"], "mailsim.run/1");
  EXPECT_EQ(j["seed"], 7);
  EXPECT_EQ(j["passed"], false);
  EXPECT_EQ(j["summary"]["scenarios"], 3);
  EXPECT_EQ(j["summary"]["failed"], 2);
  EXPECT_EQ(j["summary"]["unmet"], 2);
  const auto& cf = j["scenarios"][1];
  EXPECT_EQ(cf["name"], "cloudflare-proxy-on");
  EXPECT_TRUE(cf["error"].is_null());
  const auto& g = cf["outcomes"][0];
  EXPECT_EQ(g["direction"], "outbound");
  EXPECT_EQ(g["disposition"], "rejected");
  EXPECT_EQ(g["reply"]["code"], 550);
  EXPECT_EQ(g["reply"]["enhanced"], "5.7.25");
  EXPECT_EQ(g["findings"][0]["kind"], "fact");
  EXPECT_EQ(g["findings"][1]["result"], "fail");
  EXPECT_EQ(g["fix"]["id"], "proxy-on-mx");
  EXPECT_TRUE(g["score"].is_null());
  // Invalid UTF-8 in a transcript becomes U+FFFD instead of aborting the report.
  EXPECT_EQ(g["transcript"][2], "\x01 bad \xEF\xBF\xBD byte");
  EXPECT_EQ(cf["outcomes"][1]["score"]["value"], 8.5);
  EXPECT_EQ(cf["outcomes"][1]["score"]["deductions"][0]["rule"], "RDNS_MISMATCH");
  EXPECT_EQ(cf["expectations"][1]["met"], false);
  EXPECT_EQ(j["scenarios"][2]["error"], "scenarios/catalog/typo.yaml:3: unknown breakage \"spf.sett\"");
  EXPECT_EQ(render_json(sample()), text);  // deterministic
}

TEST(Junit, EscapesWhatXmlCannotCarry) {
  EXPECT_EQ(xml_escape("a<b>&\"c\"'"), "a&lt;b&gt;&amp;&quot;c&quot;&apos;");
  EXPECT_EQ(xml_escape("x\x01y"), "x\xEF\xBF\xBDy");
  EXPECT_EQ(xml_escape("\xff"), "\xEF\xBF\xBD");
  EXPECT_EQ(xml_escape("\xC3\xA9 → ✓"), "\xC3\xA9 → ✓");
  EXPECT_EQ(xml_escape("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
}

// Parses the JUnit XML with Python's xml.etree (a real XML parser) and prints a summary.
TEST(Junit, IsWellFormedAndCountsFailures) {
  std::string xml = render_junit(sample());
  std::string path = ::testing::TempDir() + "mailsim_junit_test.xml";
  {
    std::ofstream f(path, std::ios::binary);
    f << xml;
  }
  std::string cmd =
      "/usr/bin/python3 -c \"import sys, xml.etree.ElementTree as E; r=E.parse(sys.argv[1])"
      ".getroot(); print(r.tag, r.get('tests'), r.get('failures'), r.get('errors')); "
      "[print(s.get('name'), c.get('name'), 'F' if c.find('failure') is not None else "
      "('E' if c.find('error') is not None else 'P')) for s in r for c in s]\" " + path;
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) out += buf;
  int rc = pclose(p);
  ASSERT_EQ(rc, 0) << out << "\n" << xml;
  EXPECT_EQ(out,
            "testsuites 7 2 1\n"
            "guide-baseline outbound/gmail P\n"
            "guide-baseline outbound/mailtester P\n"
            "cloudflare-proxy-on outbound/gmail P\n"
            "cloudflare-proxy-on outbound/mailtester F\n"
            "cloudflare-proxy-on inbound/gmail P\n"
            "cloudflare-proxy-on inbound/yahoo F\n"
            "typo scenario E\n");
  std::remove(path.c_str());
}

}  // namespace
}  // namespace mailsim::report
