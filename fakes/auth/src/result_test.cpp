#include "mailsim/auth/result.hpp"

#include <gtest/gtest.h>

#include "checks_test_world.hpp"

namespace mailsim::auth {
namespace {

TEST(Result, ToStringUsesRfc8601Vocabulary) {
  EXPECT_EQ(to_string(Result::pass), "pass");
  EXPECT_EQ(to_string(Result::softfail), "softfail");
  EXPECT_EQ(to_string(Result::temperror), "temperror");
  EXPECT_EQ(to_string(Result::permerror), "permerror");
  EXPECT_EQ(to_string(Result::policy), "policy");
}

TEST(Result, DnsStatusMapping) {
  using dns::DnsStatus;
  EXPECT_EQ(dns_status_to_result(DnsStatus::ok), Result::pass);
  EXPECT_EQ(dns_status_to_result(DnsStatus::nxdomain), Result::none);
  EXPECT_EQ(dns_status_to_result(DnsStatus::nodata), Result::none);
  EXPECT_EQ(dns_status_to_result(DnsStatus::servfail), Result::temperror);
  EXPECT_EQ(dns_status_to_result(DnsStatus::timeout), Result::temperror);
  EXPECT_EQ(dns_status_to_result(DnsStatus::refused), Result::permerror);
  EXPECT_EQ(dns_status_to_result(DnsStatus::formerr), Result::permerror);
}

TEST(TracingResolver, RecordsEachQueryAndAnswer) {
  auto w = testing::guide_world();
  w.add_fault({"broken.nodeseek.com", std::nullopt, world::DnsFaultKind::servfail});
  auto inner = testing::resolver_for(w);
  Trace trace;
  TracingResolver r(*inner, trace);
  auto a = r.query("nodeseek.com", dns::RrType::TXT);
  EXPECT_TRUE(a.ok());
  r.query("nope.nodeseek.com", dns::RrType::A);
  r.query("broken.nodeseek.com", dns::RrType::A);
  EXPECT_EQ(r.queries(), 3);
  ASSERT_EQ(trace.size(), 3u);
  EXPECT_EQ(trace[0].kind, TraceStep::Kind::query);
  EXPECT_EQ(trace[0].text, "TXT nodeseek.com → TXT \"v=spf1 a mx -all\"");
  EXPECT_EQ(trace[1].text, "A nope.nodeseek.com → NXDOMAIN");
  EXPECT_EQ(trace[2].text, "A broken.nodeseek.com → SERVFAIL");
}

}  // namespace
}  // namespace mailsim::auth
