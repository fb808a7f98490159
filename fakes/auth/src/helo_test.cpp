#include "mailsim/auth/helo.hpp"

#include <gtest/gtest.h>

#include "checks_test_world.hpp"

namespace mailsim::auth {
namespace {

using testing::guide_world;
using testing::resolver_for;

TEST(Helo, GuideHostnamePasses) {
  auto w = guide_world();
  auto r = resolver_for(w);
  auto res = check_helo("mx.nodeseek.com", "12.34.56.78", *r);
  EXPECT_EQ(res.result, Result::pass) << res.cause;
  EXPECT_TRUE(res.fqdn);
  EXPECT_TRUE(res.resolves);
  EXPECT_TRUE(res.matches_client);
  EXPECT_TRUE(res.matches_ptr);
  EXPECT_FALSE(res.bare_ip);
}

TEST(Helo, ResolvesElsewhereIsNeutral) {
  auto w = guide_world();
  w.add(world::make_a("web.nodeseek.com", "104.21.48.10"));
  auto r = resolver_for(w);
  auto res = check_helo("web.nodeseek.com", "12.34.56.78", *r);
  EXPECT_EQ(res.result, Result::neutral);
  EXPECT_TRUE(res.resolves);
  EXPECT_FALSE(res.matches_client);
  EXPECT_FALSE(res.matches_ptr);
}

TEST(Helo, UnresolvableFqdnFails) {
  auto w = guide_world();
  auto r = resolver_for(w);
  auto res = check_helo("ghost.nodeseek.com", "12.34.56.78", *r);
  EXPECT_EQ(res.result, Result::fail);
  EXPECT_TRUE(res.fqdn);
  EXPECT_FALSE(res.resolves);
}

TEST(Helo, BareIpLiteralAndLocalhost) {
  auto w = guide_world();
  auto r = resolver_for(w);
  auto bare = check_helo("12.34.56.78", "12.34.56.78", *r);
  EXPECT_EQ(bare.result, Result::fail);
  EXPECT_TRUE(bare.bare_ip);
  EXPECT_FALSE(bare.fqdn);

  auto literal = check_helo("[12.34.56.78]", "12.34.56.78", *r);
  EXPECT_EQ(literal.result, Result::neutral);
  EXPECT_TRUE(literal.bare_ip);
  EXPECT_TRUE(literal.matches_client);

  auto other = check_helo("[10.0.0.1]", "12.34.56.78", *r);
  EXPECT_EQ(other.result, Result::fail);

  auto v6 = check_helo("[IPv6:2001:db8::1]", "2001:db8::1", *r);
  EXPECT_TRUE(v6.bare_ip);
  EXPECT_EQ(v6.result, Result::neutral);

  auto local = check_helo("localhost", "12.34.56.78", *r);
  EXPECT_EQ(local.result, Result::fail);
  EXPECT_TRUE(local.localhost);
  // No DNS was asked for a name that cannot be on the Internet.
  EXPECT_TRUE(local.trace.size() == 1 && local.trace[0].kind == TraceStep::Kind::step);
}

TEST(Helo, NotFqdn) {
  auto w = guide_world();
  auto r = resolver_for(w);
  EXPECT_FALSE(check_helo("mailserver", "12.34.56.78", *r).fqdn);
  EXPECT_EQ(check_helo("mailserver", "12.34.56.78", *r).result, Result::fail);
  EXPECT_FALSE(check_helo("bad_name.nodeseek.com", "12.34.56.78", *r).fqdn);
  EXPECT_FALSE(check_helo("-x.nodeseek.com", "12.34.56.78", *r).fqdn);
  EXPECT_EQ(check_helo("", "12.34.56.78", *r).result, Result::fail);
}

TEST(Helo, DnsTimeoutIsTemperror) {
  auto w = guide_world();
  w.add_fault({"mx.nodeseek.com", std::nullopt, world::DnsFaultKind::timeout});
  auto r = resolver_for(w);
  EXPECT_EQ(check_helo("mx.nodeseek.com", "12.34.56.78", *r).result, Result::temperror);
}

}  // namespace
}  // namespace mailsim::auth
