// End to end: catalog scenarios run by the Runner on the builtin SUT — real fake DNS on
// the wire, real ReceivingMtas with personas, real SMTP + STARTTLS over the loopback
// fabric, real DKIM/SPF/DMARC checks. Loopback sockets only (127.N blocks of the fabric).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>

#include "mailsim/run/runner.hpp"
#include "mailsim/run/scenario.hpp"

namespace mailsim::run {
namespace {

const Catalog& catalog() {
  static const Catalog c =
      load_catalog(std::filesystem::path(MAILSIM_SOURCE_DIR) / "scenarios" / "catalog");
  return c;
}

const ProbeResult* find_probe(const RunResult& r, std::string_view name) {
  for (const auto& p : r.probes)
    if (p.name == name) return &p;
  return nullptr;
}

std::string explain(const RunResult& r) {
  std::string s = "error: " + r.error + "\n";
  for (const auto& l : r.runner_logs) s += "runner: " + l + "\n";
  for (const auto& l : r.sut_logs) s += "sut: " + l + "\n";
  for (const auto& p : r.probes) {
    s += p.name + ": " + std::string(sut::to_string(p.state)) + " " + p.error + "\n";
    for (const auto& a : p.attempts) s += "  attempt: " + a.detail + "\n";
    for (const auto& d : p.deliveries) s += "  delivery: " + d.final_reply.summary() + "\n";
  }
  return s;
}

TEST(RunnerE2e, GuideBaselineGmailAcceptsWithSpfDkimDmarcPass) {
  RunOptions options;
  options.seed = 7;
  options.run_index = 40;
  options.io_timeout_ms = 5000;
  Runner runner(options);
  RunResult r = runner.run(catalog().at("guide-baseline"));
  ASSERT_TRUE(r.ok()) << explain(r);
  ASSERT_EQ(r.dkim.size(), 1u);
  EXPECT_EQ(r.dkim[0].domain, "nodeseek.com");
  EXPECT_NE(r.zone_text.find(r.dkim[0].record_name), std::string::npos)
      << "the SUT's DKIM record must be published in the served zone";

  const ProbeResult* gmail = find_probe(r, "outbound/gmail");
  ASSERT_NE(gmail, nullptr) << explain(r);
  ASSERT_EQ(gmail->state, sut::SubmissionState::delivered) << explain(r);
  ASSERT_FALSE(gmail->deliveries.empty()) << explain(r);
  const mta::Delivery& d = gmail->deliveries.back();
  EXPECT_TRUE(d.accepted()) << d.final_reply.summary();
  EXPECT_EQ(d.client_ip, "12.34.56.78") << "the receiver sees the guide's server address";
  EXPECT_EQ(d.helo, "mx.nodeseek.com");
  EXPECT_TRUE(d.tls.used) << "builtin must STARTTLS when the receiver offers it";
  ASSERT_TRUE(d.checks.spf.has_value());
  EXPECT_EQ(d.checks.spf->result, auth::Result::pass) << d.checks.spf->cause;
  ASSERT_TRUE(d.checks.dkim.has_value());
  EXPECT_EQ(d.checks.dkim->result, auth::Result::pass) << d.checks.dkim->cause;
  ASSERT_TRUE(d.checks.dmarc.has_value());
  EXPECT_EQ(d.checks.dmarc->result, auth::Result::pass) << d.checks.dmarc->cause;

  // The SUT's side agrees: one attempt, delivered over TLS.
  ASSERT_EQ(gmail->attempts.size(), 1u);
  EXPECT_TRUE(gmail->attempts[0].tls);
  EXPECT_EQ(gmail->attempts[0].final_reply.code, 250);

  // Inbound: gmail's sender reaches the SUT through the world's MX and the mail is stored.
  const ProbeResult* in = find_probe(r, "inbound/gmail");
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->state, sut::SubmissionState::delivered) << explain(r);
  ASSERT_EQ(in->stored.size(), 1u) << explain(r);
  EXPECT_EQ(in->stored[0].client_ip, in->attempts.at(0).address.empty()
                                         ? ""
                                         : in->stored[0].client_ip);
  EXPECT_NE(in->stored[0].client_ip.rfind("127.", 0), 0u)
      << "the SUT must see the sender's virtual address, not the wire one";
}

TEST(RunnerE2e, CloudflareProxyMakesInboundUnreachable) {
  RunOptions options;
  options.seed = 7;
  options.run_index = 41;
  options.personas = {"gmail"};
  Runner runner(options);
  RunResult r = runner.run(catalog().at("cloudflare-proxy-on"));
  ASSERT_TRUE(r.ok()) << explain(r);
  const ProbeResult* in = find_probe(r, "inbound/gmail");
  ASSERT_NE(in, nullptr) << explain(r);
  EXPECT_EQ(in->state, sut::SubmissionState::failed) << explain(r);
  ASSERT_EQ(in->attempts.size(), 1u);
  EXPECT_FALSE(in->attempts[0].connected);
  EXPECT_TRUE(in->stored.empty());
  // Only the filtered persona ran.
  for (const auto& p : r.probes) EXPECT_EQ(p.persona, "gmail");
}

TEST(RunnerE2e, Port25BlockedTimesOutOnTheSimulatedClock) {
  RunOptions options;
  options.run_index = 42;
  options.personas = {"gmail"};
  Runner runner(options);
  auto started = std::chrono::steady_clock::now();
  RunResult r = runner.run(catalog().at("port25-blocked"));
  ASSERT_TRUE(r.ok()) << explain(r);
  const ProbeResult* out = find_probe(r, "outbound/gmail");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->state, sut::SubmissionState::failed) << explain(r);
  ASSERT_GE(out->attempts.size(), 2u) << "blocked egress must be retried";
  EXPECT_NE(out->attempts[0].connect_error.find("timed out"), std::string::npos)
      << out->attempts[0].connect_error;
  EXPECT_TRUE(out->deliveries.empty()) << "nothing may reach the receiver";
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(60));
}

TEST(RunnerE2e, RunAllIsParallelShardedAndSortedByName) {
  RunOptions options;
  options.run_index = 50;
  options.jobs = 2;
  options.personas = {"gmail"};
  options.shard = parse_shard("0/2");
  Runner runner(options);
  std::vector<Scenario> scenarios = {catalog().at("no-root-a"), catalog().at("guide-baseline"),
                                     catalog().at("dkim-unpublished")};
  auto results = runner.run_all(scenarios);
  // Sorted: dkim-unpublished, guide-baseline, no-root-a → shard 0/2 takes indexes 0 and 2.
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].scenario, "dkim-unpublished");
  EXPECT_EQ(results[1].scenario, "no-root-a");
  EXPECT_NE(results[0].block, results[1].block);
  for (const auto& r : results) EXPECT_TRUE(r.ok()) << explain(r);
  // dkim-unpublished: the record never reaches the zone, so gmail's DKIM check fails.
  const ProbeResult* p = find_probe(results[0], "outbound/gmail");
  ASSERT_NE(p, nullptr);
  ASSERT_FALSE(p->deliveries.empty()) << explain(results[0]);
  ASSERT_TRUE(p->deliveries.back().checks.dkim.has_value());
  EXPECT_NE(p->deliveries.back().checks.dkim->result, auth::Result::pass);
}

TEST(RunnerE2e, SameSeedSameDkimRecord) {
  RunOptions options;
  options.seed = 99;
  options.personas = {"gmail"};
  options.run_index = 60;
  RunResult a = Runner(options).run(catalog().at("guide-baseline"));
  options.run_index = 61;
  RunResult b = Runner(options).run(catalog().at("guide-baseline"));
  ASSERT_TRUE(a.ok() && b.ok()) << explain(a) << explain(b);
  ASSERT_EQ(a.dkim.size(), 1u);
  EXPECT_EQ(a.dkim[0].selector, b.dkim[0].selector);
  EXPECT_EQ(a.dkim[0].txt, b.dkim[0].txt);
  EXPECT_EQ(a.zone_text, b.zone_text);
}

TEST(RunnerE2e, StopBeforeRunCancels) {
  RunOptions options;
  options.run_index = 70;
  Runner runner(options);
  runner.request_stop();
  RunResult r = runner.run(catalog().at("guide-baseline"));
  EXPECT_TRUE(r.cancelled);
  EXPECT_TRUE(r.probes.empty());
}

}  // namespace
}  // namespace mailsim::run

namespace mailsim::run {
namespace {

// Every catalog scenario completes on the builtin SUT: no runner error, no probe error, every
// outbound probe reached a final state. Two jobs in parallel, each in its own 127.N block.
TEST(RunnerE2e, WholeCatalogRunsInParallel) {
  std::vector<Scenario> all;
  for (const auto& [name, s] : catalog()) all.push_back(s);
  RunOptions options;
  options.run_index = 100;
  options.jobs = 2;
  options.io_timeout_ms = 3000;
  Runner runner(options);
  auto started = std::chrono::steady_clock::now();
  auto results = runner.run_all(all);
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(results.size(), all.size());
  std::set<unsigned> blocks;
  for (const auto& r : results) {
    EXPECT_TRUE(r.ok()) << r.scenario << ": " << explain(r);
    blocks.insert(r.block);
    for (const auto& p : r.probes) {
      EXPECT_TRUE(p.error.empty()) << r.scenario << " " << p.name << ": " << p.error;
      if (p.direction == Direction::outbound) {
        EXPECT_NE(p.state, sut::SubmissionState::queued) << r.scenario << " " << p.name;
      }
    }
  }
  EXPECT_EQ(blocks.size(), results.size()) << "each scenario needs its own 127.N block";
  RecordProperty("catalog_seconds", std::to_string(seconds));
  std::printf("whole catalog: %zu scenarios in %.2f s with 2 jobs\n", results.size(), seconds);
}

}  // namespace
}  // namespace mailsim::run

namespace mailsim::run {
namespace {

TEST(RunnerE2e, NoStarttlsMeansPlaintextBothWays) {
  RunOptions options;
  options.run_index = 43;
  options.personas = {"gmail"};
  RunResult r = Runner(options).run(catalog().at("no-starttls"));
  ASSERT_TRUE(r.ok()) << explain(r);
  const ProbeResult* out = find_probe(r, "outbound/gmail");
  const ProbeResult* in = find_probe(r, "inbound/gmail");
  ASSERT_TRUE(out && in) << explain(r);
  ASSERT_FALSE(out->deliveries.empty()) << explain(r);
  EXPECT_FALSE(out->deliveries.back().tls.used);
  ASSERT_EQ(in->stored.size(), 1u) << explain(r);
  EXPECT_FALSE(in->stored[0].tls);
}

}  // namespace
}  // namespace mailsim::run

namespace mailsim::run {
namespace {

// ipv6.add gives the SUT an IPv6 address; it then prefers the receivers' AAAA records, so
// Gmail sees the IPv6 client address (and its missing PTR).
TEST(RunnerE2e, Ipv6SutSendsOverIpv6ToAaaaMx) {
  RunOptions options;
  options.run_index = 44;
  options.personas = {"gmail", "yahoo"};
  RunResult r = Runner(options).run(catalog().at("ipv6-no-ptr"));
  ASSERT_TRUE(r.ok()) << explain(r);
  const ProbeResult* gmail = find_probe(r, "outbound/gmail");
  ASSERT_TRUE(gmail && !gmail->deliveries.empty()) << explain(r);
  EXPECT_EQ(gmail->deliveries.back().client_ip, "2a01:4f8:1:2::78") << explain(r);
  EXPECT_NE(gmail->attempts.at(0).address.find(':'), std::string::npos);
  // Yahoo's MX has no AAAA: IPv4 as before.
  const ProbeResult* yahoo = find_probe(r, "outbound/yahoo");
  ASSERT_TRUE(yahoo && !yahoo->deliveries.empty()) << explain(r);
  EXPECT_EQ(yahoo->deliveries.back().client_ip, "12.34.56.78");
}

}  // namespace
}  // namespace mailsim::run
