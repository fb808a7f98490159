#include "mailsim/auth/iprev.hpp"

#include <gtest/gtest.h>

#include "checks_test_world.hpp"

namespace mailsim::auth {
namespace {

using testing::guide_world;
using testing::resolver_for;

TEST(Iprev, GuideBaselinePasses) {
  auto w = guide_world();
  auto r = resolver_for(w);
  auto res = check_iprev("12.34.56.78", *r);
  EXPECT_EQ(res.result, Result::pass) << res.cause;
  EXPECT_EQ(res.ptr_names, std::vector<std::string>{"mx.nodeseek.com"});
  EXPECT_EQ(res.verified_name, "mx.nodeseek.com");
  EXPECT_EQ(res.cause, "PTR 12.34.56.78 → mx.nodeseek.com; A mx.nodeseek.com → 12.34.56.78: "
                       "FCrDNS pass");
}

TEST(Iprev, CloudflareProxyBreaksForwardConfirmation) {
  auto w = guide_world();
  w.replace(world::make_a("mx.nodeseek.com", "104.21.48.10"));
  auto r = resolver_for(w);
  auto res = check_iprev("12.34.56.78", *r);
  EXPECT_EQ(res.result, Result::fail);
  EXPECT_EQ(res.verified_name, "");
  EXPECT_EQ(res.cause, "PTR 12.34.56.78 → mx.nodeseek.com; A mx.nodeseek.com → 104.21.48.10 ≠ "
                       "12.34.56.78: FCrDNS fail");
  ASSERT_GE(res.trace.size(), 3u);
  EXPECT_EQ(res.trace[0].text, "PTR 78.56.34.12.in-addr.arpa → PTR mx.nodeseek.com.");
}

TEST(Iprev, NoPtrFails) {
  auto w = guide_world();
  w.remove("78.56.34.12.in-addr.arpa");
  auto r = resolver_for(w);
  auto res = check_iprev("12.34.56.78", *r);
  EXPECT_EQ(res.result, Result::fail);
  EXPECT_TRUE(res.ptr_names.empty());
  EXPECT_NE(res.cause.find("no reverse DNS"), std::string::npos);
}

TEST(Iprev, SecondPtrNameCanVerify) {
  auto w = guide_world();
  w.add(world::make_ptr("78.56.34.12.in-addr.arpa", "vps123.nodeseek.com"));
  w.replace(world::make_a("mx.nodeseek.com", "104.21.48.10"));
  w.add(world::make_a("vps123.nodeseek.com", "12.34.56.78"));
  auto r = resolver_for(w);
  auto res = check_iprev("12.34.56.78", *r);
  EXPECT_EQ(res.result, Result::pass);
  EXPECT_EQ(res.ptr_names.size(), 2u);
  EXPECT_EQ(res.verified_name, "vps123.nodeseek.com");
}

TEST(Iprev, DnsErrorsAreTemperror) {
  auto w = guide_world();
  w.add_fault({"78.56.34.12.in-addr.arpa", std::nullopt, world::DnsFaultKind::timeout});
  auto r = resolver_for(w);
  EXPECT_EQ(check_iprev("12.34.56.78", *r).result, Result::temperror);

  auto w2 = guide_world();
  w2.add_fault({"mx.nodeseek.com", world::RrType::A, world::DnsFaultKind::servfail});
  auto r2 = resolver_for(w2);
  EXPECT_EQ(check_iprev("12.34.56.78", *r2).result, Result::temperror);
}

TEST(Iprev, Ipv6ComparesByValue) {
  auto w = guide_world();
  std::string reverse = world::reverse_name("2001:db8::25");
  w.add(world::make_ptr(reverse, "mx.nodeseek.com"));
  w.add(world::make_aaaa("mx.nodeseek.com", "2001:0db8:0000::0025"));
  auto r = resolver_for(w);
  auto res = check_iprev("2001:db8::25", *r);
  EXPECT_EQ(res.result, Result::pass) << res.cause;
}

TEST(Iprev, NotAnAddress) {
  auto w = guide_world();
  auto r = resolver_for(w);
  EXPECT_EQ(check_iprev("mx.nodeseek.com", *r).result, Result::permerror);
}

}  // namespace
}  // namespace mailsim::auth
