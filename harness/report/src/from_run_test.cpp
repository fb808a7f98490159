#include "mailsim/report/from_run.hpp"

#include <gtest/gtest.h>

namespace mailsim::report {
namespace {

run::Scenario cloudflare() {
  return run::load_scenario_text(R"(name: cloudflare-proxy-on
extends: guide-baseline
teaches: Proxied records resolve to Cloudflare.
breakages:
  - proxy.on: {name: mx}
expect:
  outbound: {gmail: rejected 5.7.25, mailtester: "<= 6"}
  inbound: {all: unreachable}
)",
                                 "cloudflare.yaml");
}

run::ProbeResult outbound_gmail() {
  run::ProbeResult p;
  p.name = "outbound/gmail";
  p.direction = run::Direction::outbound;
  p.persona = "gmail";
  mta::Delivery d;
  d.persona = "gmail";
  d.client_ip = "12.34.56.78";
  d.disposition = personas::Disposition::rejected;
  d.final_reply.code = 550;
  d.final_reply.enhanced = "5.7.25";
  d.final_reply.lines = {"PTR record check failed. - gsmtp"};
  auth::IprevResult iprev;
  iprev.result = auth::Result::fail;
  iprev.ptr_names = {"mx.nodeseek.com"};
  iprev.cause = "mx.nodeseek.com resolves to 104.21.48.10, not 12.34.56.78";
  iprev.trace = {{auth::TraceStep::Kind::query, "A mx.nodeseek.com → A 104.21.48.10"}};
  d.checks.iprev = iprev;
  p.deliveries = {d};
  sut::DeliveryAttempt a;
  a.mx_host = "gmail-smtp-in.l.google.com";
  a.address = "142.250.1.27";
  a.connected = true;
  a.final_reply = d.final_reply;
  a.outcome = sut::AttemptOutcome::bounced;
  p.attempts = {a};
  p.state = sut::SubmissionState::bounced;
  return p;
}

run::ProbeResult inbound(std::string persona) {
  run::ProbeResult p;
  p.name = "inbound/" + persona;
  p.direction = run::Direction::inbound;
  p.persona = persona;
  sut::DeliveryAttempt a;
  a.mx_host = "mx.nodeseek.com";
  a.address = "104.21.48.10";
  a.connected = false;
  a.connect_error = "connection timed out";
  a.outcome = sut::AttemptOutcome::unreachable;
  p.attempts = {a};
  return p;
}

TEST(FromRun, ScoresProbesAndJudgesTheScenarioExpectations) {
  auto scenario = cloudflare();
  run::RunResult result;
  result.scenario = scenario.name;
  result.probes = {outbound_gmail(), inbound("gmail"), inbound("yahoo")};
  auto s = build_scenario_report(scenario, result, {"gmail", "yahoo", "mailtester"});
  ASSERT_EQ(s.outcomes.size(), 3u);
  const auto& g = s.outcomes[0];
  EXPECT_EQ(g.disposition, score::Disposition::rejected);
  ASSERT_TRUE(g.fix);
  EXPECT_EQ(g.fix->text, "in your DNS panel, set the cloud icon of `mx` to DNS only");
  EXPECT_EQ(s.outcomes[1].disposition, score::Disposition::unreachable);
  ASSERT_TRUE(s.outcomes[1].fix);
  EXPECT_EQ(s.outcomes[1].fix->id, "proxy-on-mx");
  // gmail rejected 5.7.25 met; inbound gmail/yahoo unreachable met; mailtester (asked for
  // with --persona but without probes here) unmet in both directions, saying so.
  ASSERT_EQ(s.expectations.size(), 5u);
  int unmet = 0;
  for (const auto& c : s.expectations) {
    if (!c.met) {
      ++unmet;
      EXPECT_EQ(c.persona, "mailtester");
      EXPECT_EQ(c.actual, "no outcome");
    }
  }
  EXPECT_EQ(unmet, 2);
  EXPECT_EQ(s.file, "cloudflare.yaml");
}

TEST(FromRun, PersonaFilterDropsOtherPersonasExpectations) {
  auto scenario = cloudflare();
  auto x = expectations_for(scenario, {"gmail"});
  ASSERT_EQ(x.size(), 2u);
  EXPECT_EQ(x[0].expected, "rejected 5.7.25");
  EXPECT_EQ(x[1].direction, score::Direction::inbound);
  EXPECT_EQ(x[1].expected, "unreachable");
}

TEST(FromRun, RunErrorIsCarriedAndNotJudged) {
  auto scenario = cloudflare();
  run::RunResult result;
  result.scenario = scenario.name;
  result.error = "SUT builtin failed to start: port in use";
  auto s = build_scenario_report(scenario, result);
  EXPECT_EQ(s.error, result.error);
  EXPECT_TRUE(s.expectations.empty());
  EXPECT_FALSE(s.passed());
}

}  // namespace
}  // namespace mailsim::report
