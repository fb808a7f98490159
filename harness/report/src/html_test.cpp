// The HTML report: structure and escaping as strings, then the real thing — headless
// Chromium loads the file, runs its script, and the test reads the rendered DOM. A
// screenshot goes to build/artifacts/ for humans.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "mailsim/report/html.hpp"
#include "mailsim/run/scenario.hpp"
#include "mailsim/world/baseline.hpp"
#include "mailsim/world/breakage.hpp"

namespace mailsim::report {
namespace {

score::Outcome outcome(score::Direction d, std::string persona, score::Disposition disp) {
  score::Outcome o;
  o.scenario = "cloudflare-proxy-on";
  o.direction = d;
  o.persona = std::move(persona);
  o.disposition = disp;
  return o;
}

RunReport sample_report() {
  RunReport rep;
  ScenarioReport s;
  s.name = "cloudflare-proxy-on";
  s.teaches = "Proxied records resolve to Cloudflare, which carries no SMTP.";
  auto gmail = outcome(score::Direction::outbound, "gmail", score::Disposition::rejected);
  smtp::Reply r;
  r.code = 550;
  r.enhanced = "5.7.25";
  r.lines = {"The IP address sending this message does not have a PTR record <setup>."};
  gmail.reply = r;
  gmail.findings = {
      {score::FindingKind::fact, "dns", "", "mx.nodeseek.com A → 104.21.48.10 (Cloudflare proxy)", "RFC 1035 §3.4.1"},
      {score::FindingKind::check, "iprev", "fail",
       "PTR 12.34.56.78 → mx.nodeseek.com, forward → 104.21.48.10 ≠ 12.34.56.78: FCrDNS fail", "RFC 8601 §3"},
      {score::FindingKind::verdict, "smtp", "", "gmail: 550-5.7.25", "support.google.com/a/answer/81126"}};
  gmail.fix = score::Fix{"proxy-on-mx", "turn the proxy off for mx (DNS only)", "developers.cloudflare.com"};
  gmail.transcript = {"C: EHLO mx.nodeseek.com", "S: 250 mx.google.com", "C: MAIL FROM:<a@nodeseek.com>",
                      "S: 550-5.7.25 The IP address sending this message does not have a PTR record"};
  s.outcomes.push_back(gmail);
  auto mt = outcome(score::Direction::outbound, "mailtester", score::Disposition::spam);
  mt.score = score::make_mailtester_score({{"RDNS_NONE", 1.3, "Delivered to internal network by a host with no rDNS", "SpamAssassin 50_scores.cf"}});
  mt.authentication_results = "Authentication-Results: mail-tester.com; iprev=fail smtp.remote-ip=12.34.56.78";
  s.outcomes.push_back(mt);
  s.outcomes.push_back(outcome(score::Direction::inbound, "gmail", score::Disposition::unreachable));
  score::ExpectationCheck met;
  met.expectation = {score::Direction::outbound, "gmail", "rejected", ""};
  met.persona = "gmail";
  met.met = true;
  met.actual = "rejected";
  met.why = "gmail outbound: expected rejected, got rejected";
  score::ExpectationCheck unmet;
  unmet.expectation = {score::Direction::outbound, "mailtester", "<= 6", ""};
  unmet.persona = "mailtester";
  unmet.met = false;
  unmet.actual = "spam 8.7";
  unmet.why = "mailtester outbound: expected <= 6, got 8.7";
  s.expectations = {met, unmet};
  rep.scenarios.push_back(s);
  return rep;
}

HtmlOptions sample_options() {
  HtmlOptions opt;
  opt.title = "mailsim <run> & report";
  world::World broken = world::guide_baseline();
  world::apply_breakage(broken, {"proxy.on", {{"name", "mx"}}});
  opt.zones["cloudflare-proxy-on"] = {world::guide_baseline().to_zone_text(), broken.to_zone_text()};
  opt.notes.push_back({"error", "mx.no-a", "guide.md:5", "| MX | @ | mx.broken.test |",
                       "MX points at mx.broken.test, but no row gives it an A record",
                       "RFC 5321 §5.1", "add a row `A | mx | 203.0.113.9`"});
  return opt;
}

TEST(Html, MatrixCellsColouredAndLinkedToTheirOutcome) {
  auto html = render_html(sample_report(), sample_options());
  EXPECT_NE(html.find("<title>mailsim &lt;run&gt; &amp; report</title>"), std::string::npos);
  // The matrix precedes every detail section.
  auto matrix = html.find("id=\"matrix\"");
  ASSERT_NE(matrix, std::string::npos);
  EXPECT_LT(matrix, html.find("class=\"scenario\""));
  EXPECT_NE(html.find("class=\"cell disp-rejected\" data-disposition=\"rejected\"><a href=\"#o-0-outbound-gmail\">rejected</a>"),
            std::string::npos);
  // The unmet cell is marked and says what was wanted.
  EXPECT_NE(html.find("disp-spam unmet"), std::string::npos);
  EXPECT_NE(html.find("✗ want &lt;= 6"), std::string::npos);
  EXPECT_NE(html.find("id=\"o-0-outbound-gmail\""), std::string::npos);
  // Cause chain in order, then the fix; escaping of the reply text.
  auto fact = html.find("Cloudflare proxy"), check = html.find("FCrDNS fail"), fix = html.find("Fix:</b>");
  EXPECT_LT(fact, check);
  EXPECT_LT(check, fix);
  EXPECT_NE(html.find("PTR record &lt;setup&gt;."), std::string::npos);
  EXPECT_NE(html.find("RDNS_NONE"), std::string::npos);
  EXPECT_NE(html.find("iprev=fail smtp.remote-ip=12.34.56.78"), std::string::npos);
  // Self-contained: no external fetches.
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href=\"http"), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
}

TEST(Html, ZoneDiffShowsTheBreakage) {
  world::World base = world::guide_baseline(), broken = base;
  world::apply_breakage(broken, {"spf.set", {{"value", "v=spf1 -all"}}});
  auto diff = zone_diff(base.to_zone_text(), broken.to_zone_text());
  ASSERT_EQ(diff.size(), 2u);
  EXPECT_EQ(diff[0].rfind("- nodeseek.com.", 0), 0u) << diff[0];
  EXPECT_NE(diff[0].find("v=spf1 a mx -all"), std::string::npos);
  EXPECT_EQ(diff[1].rfind("+ nodeseek.com.", 0), 0u) << diff[1];
  EXPECT_NE(diff[1].find("v=spf1 -all"), std::string::npos);
  EXPECT_TRUE(zone_diff(base.to_zone_text(), base.to_zone_text()).empty());
  auto html = render_html(sample_report(), sample_options());
  EXPECT_NE(html.find("<pre class=\"diff\"><del>- mx.nodeseek.com."), std::string::npos);
}

// --- headless Chromium ---------------------------------------------------------------------

std::string find_chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"})
    if (std::filesystem::exists(p)) return p;
  return "";
}

std::string run(const std::string& cmd) {
  std::string out;
  if (FILE* f = popen(cmd.c_str(), "r")) {
    char buf[4096];
    while (std::size_t n = fread(buf, 1, sizeof buf, f)) out.append(buf, n);
    pclose(f);
  }
  return out;
}

// Flags that keep Chromium sealed: no background services, every host name unresolvable and
// any proxied fetch sent to the loopback discard port (the NETWORK RULE: loopback only).
std::string chromium_cmd(const std::string& chromium, const std::filesystem::path& profile) {
  return chromium +
         " --headless --no-sandbox --disable-gpu --disable-background-networking"
         " --disable-component-update --disable-sync --no-first-run --disable-extensions"
         " --host-resolver-rules='MAP * ~NOTFOUND' --proxy-server=127.0.0.1:9"
         " --user-data-dir=" + profile.string();
}

TEST(HtmlChromium, RenderedDomShowsMatrixAndOpensTheLinkedCell) {
  std::string chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium not installed (scripts/bootstrap installs it)";
  auto artifacts = std::filesystem::path(MAILSIM_SOURCE_DIR) / "build" / "artifacts";
  std::filesystem::create_directories(artifacts);
  auto file = artifacts / "html_report_test.html";
  {
    std::ofstream f(file);
    f << render_html(sample_report(), sample_options());
  }
  auto profile = std::filesystem::temp_directory_path() / ("mailsim-chromium-" + std::to_string(::getpid()));
  std::filesystem::create_directories(profile);
  std::string base = "timeout 90 " + chromium_cmd(chromium, profile);
  // The fragment makes the page's script open that outcome, as a click on the cell would.
  std::string dom = run(base + " --dump-dom 'file://" + file.string() + "#o-0-outbound-gmail' 2>/dev/null");
  ASSERT_FALSE(dom.empty()) << "chromium printed no DOM";
  EXPECT_NE(dom.find("<h1 id=\"title\">mailsim &lt;run&gt; &amp; report</h1>"), std::string::npos);
  EXPECT_NE(dom.find("data-disposition=\"rejected\""), std::string::npos);
  EXPECT_NE(dom.find("1 scenario, 1 failed, 1 unmet expectation"), std::string::npos);
  // The script ran: the linked outcome is open, the others closed.
  EXPECT_NE(dom.find("id=\"o-0-outbound-gmail\" open=\"\""), std::string::npos) << dom.substr(0, 400);
  EXPECT_EQ(dom.find("id=\"o-0-outbound-mailtester\" open"), std::string::npos);
  EXPECT_NE(dom.find("turn the proxy off for mx (DNS only)"), std::string::npos);
  EXPECT_NE(dom.find("mx.no-a"), std::string::npos);

  auto shot = artifacts / "html_report_test.png";
  std::filesystem::remove(shot);
  run("cd " + artifacts.string() + " && " + base + " --window-size=1280,900 --screenshot=" + shot.string() +
      " 'file://" + file.string() + "#o-0-outbound-gmail' >/dev/null 2>&1");
  ASSERT_TRUE(std::filesystem::exists(shot)) << "no screenshot at " << shot;
  EXPECT_GT(std::filesystem::file_size(shot), 10000u);
  std::filesystem::remove_all(profile);
}

}  // namespace
}  // namespace mailsim::report
