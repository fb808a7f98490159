#include "mailsim/auth/dnsbl.hpp"

#include <gtest/gtest.h>

#include "checks_test_world.hpp"

namespace mailsim::auth {
namespace {

using testing::guide_world;
using testing::resolver_for;

const std::vector<std::string> kZen = {"zen.spamhaus.org"};

TEST(Dnsbl, NotListedPasses) {
  auto w = guide_world();
  auto r = resolver_for(w);
  auto res = check_dnsbl("12.34.56.78", kZen, *r);
  EXPECT_EQ(res.result, Result::pass) << res.cause;
  EXPECT_TRUE(res.listings.empty());
  ASSERT_EQ(res.trace.size(), 1u);
  EXPECT_EQ(res.trace[0].text, "A 78.56.34.12.zen.spamhaus.org → NXDOMAIN");
}

TEST(Dnsbl, SblListingWithReason) {
  auto w = guide_world();
  w.add(world::make_a("78.56.34.12.zen.spamhaus.org", "127.0.0.2"));
  w.add(world::make_txt("78.56.34.12.zen.spamhaus.org", "Listed: https://check.spamhaus.org/"));
  auto r = resolver_for(w);
  auto res = check_dnsbl("12.34.56.78", kZen, *r);
  EXPECT_EQ(res.result, Result::fail);
  ASSERT_EQ(res.listings.size(), 1u);
  EXPECT_EQ(res.listings[0].zone, "zen.spamhaus.org");
  EXPECT_EQ(res.listings[0].return_code, "127.0.0.2");
  EXPECT_EQ(res.listings[0].list, "SBL");
  EXPECT_EQ(res.listings[0].reason, "Listed: https://check.spamhaus.org/");
  EXPECT_EQ(res.cause, "12.34.56.78 is listed on zen.spamhaus.org (127.0.0.2 SBL)");
}

TEST(Dnsbl, SpamhausCodesNameTheList) {
  for (auto [code, list] : std::vector<std::pair<std::string, std::string>>{
           {"127.0.0.3", "SBL"}, {"127.0.0.4", "XBL"}, {"127.0.0.7", "XBL"},
           {"127.0.0.10", "PBL"}, {"127.0.0.11", "PBL"}, {"127.0.0.9", ""}}) {
    auto w = guide_world();
    w.add(world::make_a("78.56.34.12.zen.spamhaus.org", code));
    auto r = resolver_for(w);
    auto res = check_dnsbl("12.34.56.78", kZen, *r);
    ASSERT_EQ(res.listings.size(), 1u) << code;
    EXPECT_EQ(res.listings[0].list, list) << code;
  }
}

TEST(Dnsbl, OtherZonesHaveNoSpamhausNames) {
  auto w = guide_world();
  w.add_zone("bl.example");
  w.add(world::make_a("78.56.34.12.bl.example", "127.0.0.2"));
  auto r = resolver_for(w);
  auto res = check_dnsbl("12.34.56.78", {"zen.spamhaus.org", "bl.example"}, *r);
  EXPECT_EQ(res.result, Result::fail);
  ASSERT_EQ(res.listings.size(), 1u);
  EXPECT_EQ(res.listings[0].zone, "bl.example");
  EXPECT_EQ(res.listings[0].list, "");
}

TEST(Dnsbl, ErrorCodesAndDnsFailuresAreTemperror) {
  auto w = guide_world();
  w.add(world::make_a("78.56.34.12.zen.spamhaus.org", "127.255.255.254"));
  auto r = resolver_for(w);
  auto res = check_dnsbl("12.34.56.78", kZen, *r);
  EXPECT_EQ(res.result, Result::temperror);
  EXPECT_TRUE(res.listings.empty());

  auto w2 = guide_world();
  w2.add_fault({"78.56.34.12.zen.spamhaus.org", std::nullopt, world::DnsFaultKind::timeout});
  auto r2 = resolver_for(w2);
  EXPECT_EQ(check_dnsbl("12.34.56.78", kZen, *r2).result, Result::temperror);
}

TEST(Dnsbl, Ipv6UsesNibbles) {
  auto w = guide_world();
  auto r = resolver_for(w);
  auto res = check_dnsbl("2001:db8::1", kZen, *r);
  ASSERT_EQ(res.trace.size(), 1u);
  EXPECT_EQ(res.trace[0].text.rfind("A 1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0."
                                    "0.2.zen.spamhaus.org → ",
                                    0),
            0u);
}

TEST(Dnsbl, NoZonesIsNone) {
  auto w = guide_world();
  auto r = resolver_for(w);
  EXPECT_EQ(check_dnsbl("12.34.56.78", {}, *r).result, Result::none);
  EXPECT_EQ(check_dnsbl("not-an-ip", kZen, *r).result, Result::permerror);
}

}  // namespace
}  // namespace mailsim::auth
