// SPF check_host() over a World through the in-process resolver (the same zone model the
// FakeDnsServer serves on the wire). Each test states the RFC 7208 rule it exercises.
#include "mailsim/auth/spf.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "mailsim/dns/resolver.hpp"
#include "mailsim/world/world.hpp"

namespace mailsim::auth {
namespace {

using world::make_a;
using world::make_mx;
using world::make_txt;

// The guide's records (reference/posteio-guide.md): nodeseek.com with `v=spf1 a mx -all`,
// its MX mx.nodeseek.com at 12.34.56.78; the root A record is proxied by Cloudflare.
world::World guide_world(std::string_view spf = "v=spf1 a mx -all") {
  world::World w;
  w.add_zone("nodeseek.com");
  w.add(make_txt("nodeseek.com", spf));
  w.add(make_mx("nodeseek.com", 10, "mx.nodeseek.com"));
  w.add(make_a("mx.nodeseek.com", "12.34.56.78"));
  return w;
}

SpfResult check(const world::World& w, const std::string& ip,
                const std::string& from = "hello@nodeseek.com") {
  auto resolver = dns::make_world_resolver(w);
  return check_spf_mailfrom(ip, "mx.nodeseek.com", from, *resolver);
}

bool trace_has(const Trace& trace, std::string_view needle) {
  for (const auto& step : trace)
    if (step.text.find(needle) != std::string::npos) return true;
  return false;
}

TEST(Spf, GuideRecordPassesFromTheMailServer) {
  SpfResult r = check(guide_world(), "12.34.56.78");
  EXPECT_EQ(r.result, Result::pass) << r.cause;
  EXPECT_EQ(r.mechanism, "mx");
  EXPECT_EQ(r.record, "v=spf1 a mx -all");
  EXPECT_EQ(r.domain, "nodeseek.com");
  EXPECT_EQ(r.identity, "mailfrom");
  EXPECT_EQ(r.dns_lookups, 2);  // a, mx (RFC 7208 §4.6.4 counts terms, not queries)
  EXPECT_TRUE(trace_has(r.trace, "TXT nodeseek.com")) << "the record lookup is traced";
  EXPECT_TRUE(trace_has(r.trace, "MX nodeseek.com")) << "the mx lookup is traced";
  EXPECT_TRUE(trace_has(r.trace, "12.34.56.78"));
  EXPECT_NE(r.cause.find("nodeseek.com designates 12.34.56.78"), std::string::npos) << r.cause;
}

TEST(Spf, GuideRecordFailsFromTheCloudflareProxy) {
  SpfResult r = check(guide_world(), "104.21.48.10");
  EXPECT_EQ(r.result, Result::fail) << r.cause;
  EXPECT_EQ(r.mechanism, "-all");
  EXPECT_NE(r.cause.find("does not designate 104.21.48.10"), std::string::npos) << r.cause;
}

TEST(Spf, QualifiersGiveSoftfailAndNeutral) {
  EXPECT_EQ(check(guide_world("v=spf1 mx ~all"), "192.0.2.1").result, Result::softfail);
  SpfResult neutral = check(guide_world("v=spf1 mx ?all"), "192.0.2.1");
  EXPECT_EQ(neutral.result, Result::neutral);
  EXPECT_EQ(neutral.mechanism, "?all");
  // RFC 7208 §4.7: no mechanism matched and no redirect → neutral.
  SpfResult fell_off = check(guide_world("v=spf1 mx"), "192.0.2.1");
  EXPECT_EQ(fell_off.result, Result::neutral);
  EXPECT_NE(fell_off.cause.find("no mechanism matched"), std::string::npos) << fell_off.cause;
}

TEST(Spf, Ip4AndIncludeMatch) {
  world::World w = guide_world("v=spf1 include:_spf.nodeseek.com -all");
  w.add(make_txt("_spf.nodeseek.com", "v=spf1 ip4:192.0.2.0/24 -all"));
  SpfResult r = check(w, "192.0.2.77");
  EXPECT_EQ(r.result, Result::pass) << r.cause;
  EXPECT_EQ(r.mechanism, "include:_spf.nodeseek.com");
  EXPECT_EQ(check(w, "198.51.100.1").result, Result::fail);
}

TEST(Spf, NoRecordIsNone) {
  world::World w;
  w.add_zone("nodeseek.com");
  w.add(make_a("nodeseek.com", "104.21.48.10"));
  SpfResult r = check(w, "12.34.56.78");
  EXPECT_EQ(r.result, Result::none);
  EXPECT_TRUE(r.record.empty());
  EXPECT_NE(r.cause.find("no SPF record"), std::string::npos) << r.cause;
}

TEST(Spf, TwoRecordsArePermerror) {
  // RFC 7208 §4.5: more than one v=spf1 record → permerror.
  world::World w = guide_world();
  w.add(make_txt("nodeseek.com", "v=spf1 ip4:12.34.56.78 -all"));
  SpfResult r = check(w, "12.34.56.78");
  EXPECT_EQ(r.result, Result::permerror) << r.cause;
  EXPECT_NE(r.cause.find("2 SPF records"), std::string::npos) << r.cause;
}

TEST(Spf, MoreThanTenLookupsIsPermerror) {
  // RFC 7208 §4.6.4: the 11th term that needs DNS makes check_host() return permerror.
  world::World w = guide_world();
  std::string record = "v=spf1";
  for (int i = 0; i < 11; ++i) {
    std::string name = fmt::format("h{}.nodeseek.com", i);
    w.add(make_a(name, fmt::format("198.51.100.{}", i + 1)));
    record += fmt::format(" a:{}", name);
  }
  record += " -all";
  w.replace(make_txt("nodeseek.com", record));
  SpfResult r = check(w, "12.34.56.78");
  EXPECT_EQ(r.result, Result::permerror) << r.cause;
  EXPECT_GT(r.dns_lookups, 10);
  EXPECT_NE(r.cause.find("more than 10 DNS lookups"), std::string::npos) << r.cause;
  // Ten is still allowed.
  std::string ten = "v=spf1";
  for (int i = 0; i < 10; ++i) ten += fmt::format(" a:h{}.nodeseek.com", i);
  w.replace(make_txt("nodeseek.com", ten + " ip4:12.34.56.78 -all"));
  EXPECT_EQ(check(w, "12.34.56.78").result, Result::pass);
}

TEST(Spf, VoidLookupsOverTwoArePermerror) {
  // RFC 7208 §4.6.4: more than two lookups returning no records → permerror.
  world::World w = guide_world(
      "v=spf1 a:gone1.nodeseek.com a:gone2.nodeseek.com a:gone3.nodeseek.com "
      "ip4:12.34.56.78 -all");
  SpfResult r = check(w, "12.34.56.78");
  EXPECT_EQ(r.result, Result::permerror) << r.cause;
  EXPECT_EQ(r.void_lookups, 3);
  EXPECT_NE(r.cause.find("void lookups"), std::string::npos) << r.cause;
  // Two void lookups are tolerated.
  w.replace(make_txt("nodeseek.com",
                     "v=spf1 a:gone1.nodeseek.com a:gone2.nodeseek.com ip4:12.34.56.78 -all"));
  SpfResult ok = check(w, "12.34.56.78");
  EXPECT_EQ(ok.result, Result::pass) << ok.cause;
  EXPECT_EQ(ok.void_lookups, 2);
}

TEST(Spf, UnknownMechanismIsPermerrorNamingTheTerm) {
  SpfResult r = check(guide_world("v=spf1 a mx fancy:thing -all"), "12.34.56.78");
  EXPECT_EQ(r.result, Result::permerror);
  EXPECT_NE(r.cause.find("fancy:thing"), std::string::npos) << r.cause;
}

TEST(Spf, SameInvalidRecordAtTwoDomainsNamesEachDomain) {
  // A thread reuses its parse of a record text it has seen; the cause must still name the
  // domain being evaluated, each time, and a valid record after it must still pass.
  world::World w = guide_world("v=spf1 a mx fancy:thing -all");
  w.add_zone("other.org");
  w.add(make_txt("other.org", "v=spf1 a mx fancy:thing -all"));
  for (int round = 0; round < 2; ++round) {
    SpfResult a = check(w, "12.34.56.78");
    EXPECT_EQ(a.result, Result::permerror);
    EXPECT_NE(a.cause.find("record of nodeseek.com is invalid"), std::string::npos) << a.cause;
    SpfResult b = check(w, "12.34.56.78", "x@other.org");
    EXPECT_EQ(b.result, Result::permerror);
    EXPECT_NE(b.cause.find("record of other.org is invalid"), std::string::npos) << b.cause;
  }
  w.replace(make_txt("nodeseek.com", "v=spf1 a mx -all"));
  EXPECT_EQ(check(w, "12.34.56.78").result, Result::pass);
}

TEST(Spf, BadCidrIsPermerrorNamingTheTerm) {
  SpfResult r = check(guide_world("v=spf1 ip4:12.34.56.0/33 -all"), "12.34.56.78");
  EXPECT_EQ(r.result, Result::permerror);
  EXPECT_NE(r.cause.find("/33"), std::string::npos) << r.cause;
}

TEST(Spf, ServfailIsTemperror) {
  // RFC 7208 §2.6.6 / §4.4: a transient DNS error fetching the record → temperror.
  world::World w = guide_world();
  w.add_fault({"nodeseek.com", world::RrType::TXT, world::DnsFaultKind::servfail});
  SpfResult r = check(w, "12.34.56.78");
  EXPECT_EQ(r.result, Result::temperror) << r.cause;
  EXPECT_TRUE(trace_has(r.trace, "SERVFAIL")) << "the failing query is in the trace";
}

TEST(Spf, ServfailDuringMxLookupIsTemperror) {
  world::World w = guide_world();
  w.add_fault({"nodeseek.com", world::RrType::MX, world::DnsFaultKind::servfail});
  EXPECT_EQ(check(w, "12.34.56.78").result, Result::temperror);
}

TEST(Spf, NullSenderUsesHeloIdentity) {
  // RFC 7208 §2.4: a null reverse-path is checked as postmaster@<HELO domain>.
  world::World w = guide_world();
  w.add(make_txt("mx.nodeseek.com", "v=spf1 a -all"));
  auto resolver = dns::make_world_resolver(w);
  SpfResult r = check_spf_mailfrom("12.34.56.78", "mx.nodeseek.com", "", *resolver);
  EXPECT_EQ(r.result, Result::pass) << r.cause;
  EXPECT_EQ(r.domain, "mx.nodeseek.com");
}

TEST(Spf, HeloCheck) {
  world::World w = guide_world();
  w.add(make_txt("mx.nodeseek.com", "v=spf1 a -all"));
  auto resolver = dns::make_world_resolver(w);
  SpfResult pass = check_spf_helo("12.34.56.78", "mx.nodeseek.com", *resolver);
  EXPECT_EQ(pass.result, Result::pass) << pass.cause;
  EXPECT_EQ(pass.identity, "helo");
  EXPECT_EQ(pass.mechanism, "a");
  EXPECT_EQ(check_spf_helo("104.21.48.10", "mx.nodeseek.com", *resolver).result, Result::fail);
}

TEST(Spf, Ipv6Client) {
  world::World w = guide_world("v=spf1 ip6:2001:db8::/32 -all");
  EXPECT_EQ(check(w, "2001:db8::25").result, Result::pass);
  EXPECT_EQ(check(w, "2001:db9::25").result, Result::fail);
}

TEST(Spf, ZeroCidrMatchesAnyAddressWhenTheNameHasOne) {
  // RFC 7208 §5.3, §5.6: a/0 matches any IPv4 client if the name has an A record; libspf2
  // refuses /0, so spf.cpp evaluates it itself. With no A record it still does not match.
  world::World w = guide_world("v=spf1 a:mx.nodeseek.com/0 -all");
  SpfResult r = check(w, "203.0.113.9");
  EXPECT_EQ(r.result, Result::pass) << r.cause;
  EXPECT_EQ(r.mechanism, "a:mx.nodeseek.com/0");
  EXPECT_EQ(check(w, "2001:db8::1").result, Result::fail);  // no AAAA: the ip6 length is 128
  w.replace(make_txt("nodeseek.com", "v=spf1 a:gone.nodeseek.com/0 mx/0 -all"));
  EXPECT_EQ(check(w, "203.0.113.9").result, Result::pass);  // mx/0: the MX host has an A
  w.replace(make_txt("nodeseek.com", "v=spf1 a:gone.nodeseek.com/0 -all"));
  EXPECT_EQ(check(w, "203.0.113.9").result, Result::fail);
  w.replace(make_txt("nodeseek.com", "v=spf1 ip4:1.1.1.1/0 -all"));
  EXPECT_EQ(check(w, "203.0.113.9").result, Result::pass);
  EXPECT_EQ(check(w, "2001:db8::1").result, Result::fail);
}

TEST(Spf, Ipv4MappedClientIsEvaluatedAsIpv4) {
  // RFC 4291 §2.5.5.2: ::ffff:a.b.c.d is an IPv4 client; ip6:::ffff:… does not match it.
  world::World w = guide_world();
  EXPECT_EQ(check(w, "::ffff:12.34.56.78").result, Result::pass);
  w.replace(make_txt("nodeseek.com", "v=spf1 -ip4:12.34.56.78 ip6:::ffff:12.34.56.78"));
  EXPECT_EQ(check(w, "::ffff:12.34.56.78").result, Result::fail);
}

TEST(Spf, LookupLimitCountsTheTermsOfIncludes) {
  // RFC 7208 §4.6.4: the limit is for the whole check_host(), includes included.
  world::World w = guide_world("v=spf1 a include:_spf.nodeseek.com a ip4:12.34.56.78 -all");
  w.add(make_txt("_spf.nodeseek.com", "v=spf1 a a a a a a a a"));
  w.add(make_a("_spf.nodeseek.com", "198.51.100.1"));  // no void lookups, no match
  w.add(make_a("nodeseek.com", "198.51.100.2"));
  SpfResult r = check(w, "12.34.56.78");
  EXPECT_EQ(r.result, Result::permerror) << r.cause;
  EXPECT_NE(r.cause.find("more than 10 DNS lookups"), std::string::npos) << r.cause;
  w.replace(make_txt("_spf.nodeseek.com", "v=spf1 a a a a a a a"));  // exactly ten
  SpfResult ten = check(w, "12.34.56.78");
  EXPECT_EQ(ten.result, Result::pass) << ten.cause;
  EXPECT_EQ(ten.dns_lookups, 10);
}

TEST(Spf, SyntaxErrorAfterAMatchIsPermerrorNamingTheTerm) {
  // RFC 7208 §4.6: the whole record is checked first; §7.1: a single label is no domain.
  world::World w = guide_world("v=spf1 ip4:12.34.56.78 a:foo-bar -all");
  SpfResult r = check(w, "12.34.56.78");
  EXPECT_EQ(r.result, Result::permerror) << r.cause;
  EXPECT_NE(r.cause.find("a:foo-bar"), std::string::npos) << r.cause;
  EXPECT_NE(r.cause.find("nodeseek.com"), std::string::npos) << r.cause;
  // An included record with a bad macro makes the whole check permerror (§5.2).
  w.replace(make_txt("nodeseek.com", "v=spf1 include:_spf.nodeseek.com -all"));
  w.add(make_txt("_spf.nodeseek.com", "v=spf1 exists:%(i).bl.nodeseek.com"));
  SpfResult inc = check(w, "12.34.56.78");
  EXPECT_EQ(inc.result, Result::permerror) << inc.cause;
  EXPECT_NE(inc.cause.find("_spf.nodeseek.com"), std::string::npos) << inc.cause;
}

TEST(Spf, ValidRecordsLibspf2RefusesStillEvaluate) {
  // RFC 7208 §12 name allows "." and "_" in unknown modifiers (ignored, §6); §5.1: a
  // redirect= beside "all" is ignored, even one pointing back at the same domain.
  world::World w = guide_world("v=spf1 moo.cow-far_out=man:dog/cat mx -all");
  EXPECT_EQ(check(w, "12.34.56.78").result, Result::pass);
  w.replace(make_txt("nodeseek.com", "v=spf1 redirect=nodeseek.com ~all"));
  EXPECT_EQ(check(w, "12.34.56.78").result, Result::softfail);
}

}  // namespace
}  // namespace mailsim::auth
