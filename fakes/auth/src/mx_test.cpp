#include "mailsim/auth/mx.hpp"

#include <gtest/gtest.h>

#include "checks_test_world.hpp"

namespace mailsim::auth {
namespace {

using testing::guide_world;
using testing::resolver_for;

TEST(Mx, GuideBaselineHasAMailServer) {
  auto w = guide_world();
  auto r = resolver_for(w);
  MxResult res = check_mx("nodeseek.com", *r);
  EXPECT_EQ(res.result, Result::pass) << res.cause;
  EXPECT_FALSE(res.implicit_mx);
  ASSERT_EQ(res.hosts.size(), 1u);
  EXPECT_EQ(res.hosts[0].name, "mx.nodeseek.com");
  EXPECT_EQ(res.hosts[0].preference, 10);
  EXPECT_EQ(res.usable_host, "mx.nodeseek.com");
  EXPECT_EQ(res.usable_address, "12.34.56.78");
  EXPECT_EQ(res.cause, "MX nodeseek.com: mx.nodeseek.com → 12.34.56.78: a mail server at "
                       "12.34.56.78");
  ASSERT_GE(res.trace.size(), 2u);
  EXPECT_EQ(res.trace[0].kind, TraceStep::Kind::query);
  EXPECT_NE(res.trace[0].text.find("MX nodeseek.com"), std::string::npos);
}

// The guide's MX host with the Cloudflare proxy on (providers.md): the exchange answers
// with a proxy address, which carries no SMTP.
TEST(Mx, ProxiedExchangeIsNoMailServer) {
  auto w = guide_world();
  w.replace(world::make_a("mx.nodeseek.com", "104.21.48.10"));
  auto r = resolver_for(w);
  MxResult res = check_mx("nodeseek.com", *r);
  EXPECT_EQ(res.result, Result::fail);
  EXPECT_EQ(res.usable_host, "");
  ASSERT_EQ(res.hosts.size(), 1u);
  EXPECT_EQ(res.hosts[0].addresses, std::vector<std::string>{"104.21.48.10"});
  EXPECT_NE(res.cause.find("104.21.48.10 (Cloudflare proxy)"), std::string::npos) << res.cause;
  EXPECT_NE(res.cause.find("no mail server"), std::string::npos) << res.cause;
}

TEST(Mx, ProxiedIpv6OnlyExchangeIsNoMailServerButARealAddressIs) {
  auto w = guide_world();
  w.remove("mx.nodeseek.com", world::RrType::A);
  w.add(world::make_aaaa("mx.nodeseek.com", "2606:4700:3030::6815:300a"));
  auto r = resolver_for(w);
  EXPECT_EQ(check_mx("nodeseek.com", *r).result, Result::fail);

  w.add(world::make_aaaa("mx.nodeseek.com", "2a01:4f8:1:2::78"));
  auto r2 = resolver_for(w);
  MxResult res = check_mx("nodeseek.com", *r2);
  EXPECT_EQ(res.result, Result::pass) << res.cause;
  EXPECT_EQ(res.usable_address, "2a01:4f8:1:2::78");
}

// A backup exchange that is not proxied still receives (RFC 5321 §5.1: try every MX).
TEST(Mx, SecondExchangeCanReceive) {
  auto w = guide_world();
  w.replace(world::make_a("mx.nodeseek.com", "104.21.48.10"));
  w.add(world::make_mx("nodeseek.com", 20, "backup.nodeseek.com"));
  w.add(world::make_a("backup.nodeseek.com", "12.34.56.79"));
  auto r = resolver_for(w);
  MxResult res = check_mx("nodeseek.com", *r);
  EXPECT_EQ(res.result, Result::pass) << res.cause;
  ASSERT_EQ(res.hosts.size(), 2u);
  EXPECT_EQ(res.hosts[0].name, "mx.nodeseek.com");  // preference order
  EXPECT_EQ(res.usable_host, "backup.nodeseek.com");
}

// RFC 5321 §5.1: no MX → the domain's own A is the implicit MX.
TEST(Mx, NoMxFallsBackToTheDomainsAddress) {
  auto w = guide_world();
  w.remove("nodeseek.com", world::RrType::MX);
  auto r = resolver_for(w);
  MxResult res = check_mx("nodeseek.com", *r);
  EXPECT_EQ(res.result, Result::pass) << res.cause;
  EXPECT_TRUE(res.implicit_mx);
  EXPECT_EQ(res.usable_host, "nodeseek.com");
  EXPECT_NE(res.cause.find("implicit MX"), std::string::npos);

  w.remove("nodeseek.com", world::RrType::A);
  auto r2 = resolver_for(w);
  MxResult none = check_mx("nodeseek.com", *r2);
  EXPECT_EQ(none.result, Result::fail);
  EXPECT_NE(none.cause.find("no address for any exchange"), std::string::npos) << none.cause;
}

TEST(Mx, NullMxAndMissingDomainFail) {
  auto w = guide_world();
  w.remove("nodeseek.com", world::RrType::MX);
  w.add(world::make_mx("nodeseek.com", 0, "."));
  auto r = resolver_for(w);
  MxResult res = check_mx("nodeseek.com", *r);
  EXPECT_EQ(res.result, Result::fail) << res.cause;
  EXPECT_TRUE(res.null_mx);
  EXPECT_NE(res.cause.find("RFC 7505"), std::string::npos);

  MxResult missing = check_mx("nope.nodeseek.com", *r);
  EXPECT_EQ(missing.result, Result::fail);
  EXPECT_NE(missing.cause.find("NXDOMAIN"), std::string::npos) << missing.cause;
}

TEST(Mx, DnsErrorsAreTemperrorUnlessAServerWasFound) {
  auto w = guide_world();
  w.add_fault({"nodeseek.com", world::RrType::MX, world::DnsFaultKind::servfail});
  auto r = resolver_for(w);
  EXPECT_EQ(check_mx("nodeseek.com", *r).result, Result::temperror);

  auto w2 = guide_world();
  w2.add_fault({"mx.nodeseek.com", std::nullopt, world::DnsFaultKind::timeout});
  auto r2 = resolver_for(w2);
  EXPECT_EQ(check_mx("nodeseek.com", *r2).result, Result::temperror);

  // A timeout on the first exchange does not hide a working second one.
  w2.add(world::make_mx("nodeseek.com", 20, "backup.nodeseek.com"));
  w2.add(world::make_a("backup.nodeseek.com", "12.34.56.79"));
  auto r3 = resolver_for(w2);
  EXPECT_EQ(check_mx("nodeseek.com", *r3).result, Result::pass);
}

TEST(Mx, NotADomain) {
  auto w = guide_world();
  auto r = resolver_for(w);
  EXPECT_EQ(check_mx("", *r).result, Result::permerror);
  EXPECT_EQ(check_mx("12.34.56.78", *r).result, Result::permerror);
}

TEST(Mx, CloudflareRangesFromProvidersMd) {
  for (const char* a : {"104.16.0.1", "104.23.255.255", "104.21.48.10", "104.24.0.0",
                        "104.27.255.255", "172.64.0.1", "172.71.255.255", "173.245.48.1",
                        "173.245.63.255", "162.158.0.1", "162.159.255.255", "188.114.96.1",
                        "188.114.111.255", "2606:4700::1", "2606:4700:ffff::1"})
    EXPECT_TRUE(is_cloudflare_proxy(a)) << a;
  for (const char* a : {"104.15.255.255", "104.28.0.0", "172.72.0.0", "173.245.64.0",
                        "162.160.0.0", "188.114.112.0", "12.34.56.78", "2606:4701::1",
                        "2a01:4f8:1:2::78", "not an address", ""})
    EXPECT_FALSE(is_cloudflare_proxy(a)) << a;
}

}  // namespace
}  // namespace mailsim::auth
