#include "mailsim/run/scenario.hpp"

#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mailsim::run {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace fs = std::filesystem;

std::string error_of(std::string_view yaml, const Catalog* catalog = nullptr) {
  try {
    load_scenario_text(yaml, "t.yaml", catalog);
  } catch (const ScenarioError& e) {
    return e.what();
  }
  return "(no error)";
}

const fs::path kCatalogDir = fs::path(MAILSIM_SOURCE_DIR) / "scenarios" / "catalog";

TEST(ScenarioLoad, TheDesignExample) {
  Scenario s = load_scenario_text(R"(
name: cloudflare-proxy-on
extends: guide-baseline
teaches: Proxied records resolve to Cloudflare, which carries no SMTP.
breakages:
  - proxy.on: {name: mx}
expect:
  outbound: {gmail: rejected 5.7.25, mailtester: "<= 6"}
  inbound:  {all: unreachable}
)");
  EXPECT_EQ(s.name, "cloudflare-proxy-on");
  EXPECT_EQ(s.extends, "guide-baseline");
  ASSERT_EQ(s.breakages.size(), 1u);
  EXPECT_EQ(s.breakages[0], (world::Breakage{"proxy.on", {{"name", "mx"}}}));
  EXPECT_EQ(s.world.find("mx.nodeseek.com", world::RrType::A).at(0).value, "104.21.48.10");
  EXPECT_EQ(s.probes.outbound, all_personas());
  EXPECT_EQ(s.probes.inbound.size(), 5u);
  auto gmail = s.expect.outbound.for_persona("gmail");
  ASSERT_TRUE(gmail);
  EXPECT_EQ(gmail->disposition, Disposition::rejected);
  EXPECT_EQ(gmail->enhanced_code, "5.7.25");
  auto mt = s.expect.outbound.for_persona("mailtester");
  ASSERT_TRUE(mt && mt->score);
  EXPECT_TRUE(mt->score->matches(6));
  EXPECT_FALSE(mt->score->matches(6.5));
  EXPECT_FALSE(s.expect.outbound.for_persona("yahoo"));
  EXPECT_EQ(s.expect.inbound.for_persona("yahoo")->disposition, Disposition::unreachable);
}

TEST(ScenarioLoad, PublishStageBreakagesAreKeptButNotApplied) {
  Scenario s = load_scenario_text("name: x\nbreakages: [dkim.truncate, {tls.off: {host: mx}}]\n");
  ASSERT_EQ(s.breakages.size(), 2u);
  EXPECT_EQ(s.breakages[0].name, "dkim.truncate");
  EXPECT_FALSE(s.world.host("mx.nodeseek.com")->starttls);
}

TEST(ScenarioLoad, ProbesAndBaselineOptions) {
  Scenario s = load_scenario_text(R"(
name: x
seed: 42
baseline: {domain: example.org, server_ipv4: 98.76.54.32}
probes:
  outbound: [gmail, mailtester]
  inbound: none
  message: {size: 120, html_only: true, missing_headers: [Date, message-id], bulk: yes}
)");
  EXPECT_EQ(s.seed, 42u);
  EXPECT_EQ(s.world.find("mx.example.org", world::RrType::A).at(0).value, "98.76.54.32");
  EXPECT_EQ(s.probes.outbound, (std::vector<std::string>{"gmail", "mailtester"}));
  EXPECT_TRUE(s.probes.inbound.empty());
  EXPECT_EQ(s.probes.message.size, 120u);
  EXPECT_TRUE(s.probes.message.html_only);
  EXPECT_TRUE(s.probes.message.bulk);
  EXPECT_EQ(s.probes.message.missing_headers, (std::vector<std::string>{"date", "message-id"}));
}

TEST(ScenarioErrors, UnknownBreakageHasFileLineColumnAndValidNames) {
  std::string e = error_of("name: x\nbreakages:\n  - spf.sett: {value: v=spf1 -all}\n");
  EXPECT_THAT(e, StartsWith("t.yaml:3:5: error: unknown breakage 'spf.sett'; valid: "));
  EXPECT_THAT(e, HasSubstr("spf.set, "));
  EXPECT_THAT(e, HasSubstr("dkim.truncate"));
}

TEST(ScenarioErrors, UnknownKeys) {
  EXPECT_THAT(error_of("name: x\nexpcet: {}\n"),
              StartsWith("t.yaml:2:1: error: unknown key 'expcet' in a scenario; valid: name, "));
  EXPECT_THAT(error_of("name: x\nprobes: {message: {sise: 3}}\n"),
              HasSubstr("unknown key 'sise' in probes.message; valid: size, html_only"));
  EXPECT_THAT(error_of("name: x\nexpect: {outbound: {hotmail: inbox}}\n"),
              HasSubstr("unknown key 'hotmail' in expect.outbound; valid: gmail, outlook, yahoo, "
                        "mailtester, corporate, all"));
}

TEST(ScenarioErrors, BadParams) {
  EXPECT_THAT(error_of("name: x\nbreakages:\n  - ptr.set: {adress: server, name: a.b}\n"),
              StartsWith("t.yaml:3:5: error: ptr.set: unknown parameter 'adress'; valid: "
                         "address, name"));
  EXPECT_THAT(error_of("name: x\nbreakages:\n  - spf.set\n"),
              HasSubstr("spf.set: missing parameter 'value'"));
  EXPECT_THAT(error_of("name: x\nbreakages:\n  - dns.fault: {name: mx, kind: [a]}\n"),
              HasSubstr("t.yaml:3:33: error: dns.fault: parameter 'kind' must be a single value"));
  // A breakage that validates but cannot apply to this world still points at its line.
  EXPECT_THAT(error_of("name: x\nbreakages:\n  - spf.remove\n  - spf.remove\n"),
              StartsWith("t.yaml:4:5: error: spf.remove: nodeseek.com has no SPF record"));
}

TEST(ScenarioErrors, BadDispositionsAndScores) {
  EXPECT_THAT(error_of("name: x\nexpect: {outbound: {gmail: junk}}\n"),
              HasSubstr("bad expectation 'junk'; valid: inbox, spam, rejected, deferred, "
                        "unreachable, not_sent"));
  EXPECT_THAT(error_of("name: x\nexpect: {outbound: {mailtester: {score: \"<= 11\"}}}\n"),
              HasSubstr("bad score bound '<= 11'"));
  EXPECT_THAT(error_of("name: x\nexpect: {outbound: {gmail: rejected 5.7}}\n"),
              HasSubstr("bad enhanced status code '5.7'"));
  EXPECT_THAT(error_of("name: x\nprobes: {outbound: [gmail, aol]}\n"),
              HasSubstr("t.yaml:2:28: error: unknown persona 'aol'"));
}

TEST(ScenarioErrors, ExtendsUnknownCycleAndSyntax) {
  EXPECT_THAT(error_of("name: x\nextends: nowhere\n"),
              HasSubstr("t.yaml:2:10: error: unknown scenario 'nowhere' in extends; valid: "
                        "guide-baseline"));
  EXPECT_THAT(error_of("name: x\nbreakages: [\n"), StartsWith("t.yaml:"));
  EXPECT_THAT(error_of("name: x\nextends: x\n"), HasSubstr("extends itself"));

  fs::path dir = fs::temp_directory_path() / "mailsim_scenario_cycle";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "a.yaml") << "name: a\nextends: b\n";
  std::ofstream(dir / "b.yaml") << "name: b\nextends: a\n";
  try {
    load_catalog(dir);
    ADD_FAILURE() << "a cycle must not load";
  } catch (const ScenarioError& e) {
    EXPECT_THAT(e.what(), HasSubstr("extends cycle: a → b → a"));
  }
  fs::remove_all(dir);
}

TEST(ScenarioLoad, ExtendsInheritsBreakagesProbesNotExpectations) {
  Catalog cat;
  cat.emplace("spf-broken", load_scenario_text(R"(
name: spf-broken
probes: {outbound: [gmail]}
breakages: [{spf.set: {value: "v=spf1 -all"}}]
expect: {outbound: {all: rejected}}
)"));
  Scenario s = load_scenario_text("name: y\nextends: spf-broken\nbreakages: [dmarc.remove]\n",
                                  "y.yaml", &cat);
  ASSERT_EQ(s.breakages.size(), 2u);
  EXPECT_EQ(s.inherited_breakages, 1u);
  EXPECT_EQ(s.own_breakages().at(0).name, "dmarc.remove");
  EXPECT_EQ(s.world.find_txt("nodeseek.com", "v=spf1").at(0).text(), "v=spf1 -all");
  EXPECT_TRUE(s.world.find_txt("_dmarc.nodeseek.com", "v=DMARC1").empty());
  EXPECT_EQ(s.probes.outbound, std::vector<std::string>{"gmail"});
  EXPECT_TRUE(s.expect.outbound.empty());
}

TEST(ScenarioSave, RoundTrips) {
  Scenario s = load_scenario_text(R"(
name: x
teaches: One sentence.
seed: 7
breakages:
  - record.add: {name: "@", type: TXT, value: '"v=spf1 " "-all"'}
  - dkim.truncate: {at: 200}
  - root_a.remove
probes: {outbound: [yahoo], message: {missing_headers: [date], size: 10}}
expect:
  outbound: {all: spam, mailtester: {disposition: inbox, score: ">= 9"}, gmail: rejected 5.7.26}
  inbound: {corporate: deferred}
)");
  std::string yaml = save_yaml(s);
  Scenario again = load_scenario_text(yaml, "saved.yaml");
  EXPECT_EQ(again.breakages, s.breakages) << yaml;
  EXPECT_EQ(again.probes, s.probes) << yaml;
  EXPECT_EQ(again.expect, s.expect) << yaml;
  EXPECT_EQ(again.world, s.world);
  EXPECT_EQ(again.seed, s.seed);
  EXPECT_EQ(again.teaches, s.teaches);
  EXPECT_EQ(save_yaml(again), yaml);

  Scenario edited = s;
  edited.breakages.push_back({"proxy.on", {}});
  rebuild_world(edited);
  EXPECT_EQ(edited.world.find("mx.nodeseek.com", world::RrType::A).at(0).value, "104.21.48.10");
}

TEST(ScoreBounds, Parse) {
  EXPECT_EQ(parse_score_bound("10")->op, ScoreBound::Op::eq);
  EXPECT_EQ(parse_score_bound(">=9")->value, 9);
  EXPECT_EQ(parse_score_bound("< 7.5")->to_string(), "< 7.5");
  EXPECT_FALSE(parse_score_bound("inbox"));
  EXPECT_FALSE(parse_score_bound("<= -1"));
  EXPECT_FALSE(parse_score_bound(">= 10.5"));
}

// The whole shipped catalog loads, every scenario teaches something and expects something.
TEST(Catalog, LoadsWithoutError) {
  Catalog cat = load_catalog(kCatalogDir);
  const char* required[] = {
      "guide-baseline", "spf-broken", "rdns-missing", "dkim-truncated", "cloudflare-proxy-on",
      "port25-blocked", "rdns-mismatch", "no-root-a", "dkim-unpublished", "dkim-split-space",
      "dmarc-reject-unaligned", "spf-softfail", "spf-two-records", "spf-too-many-lookups",
      "no-starttls", "ipv6-no-ptr", "dnsbl-listed", "missing-message-id-date", "body-too-short",
      "dmarc-servfail"};
  for (const char* name : required) {
    SCOPED_TRACE(name);
    auto it = cat.find(name);
    ASSERT_NE(it, cat.end());
    EXPECT_FALSE(it->second.teaches.empty());
    EXPECT_FALSE(it->second.expect.outbound.empty() && it->second.expect.inbound.empty());
    EXPECT_EQ(fs::path(it->second.source_file).stem(), name);
  }
  // Each file on its own (extends found beside it) gives the same scenario.
  Scenario alone = load_scenario_file(kCatalogDir / "rdns-missing.yaml");
  EXPECT_EQ(alone.world, cat.at("rdns-missing").world);
  EXPECT_TRUE(alone.world.find("78.56.34.12.in-addr.arpa", world::RrType::PTR).empty());
}

}  // namespace
}  // namespace mailsim::run
