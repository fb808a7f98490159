#include <gtest/gtest.h>

#include <filesystem>

#include "mailsim/dns/resolver.hpp"
#include "mailsim/dns/zone_io.hpp"

namespace mailsim::dns {
namespace {

constexpr const char* kZone = R"($ORIGIN nodeseek.com.
$TTL 300
@       IN SOA ns1.nodeseek.com. admin.nodeseek.com. 2024010101 3600 600 86400 300
@       IN NS  ns1
@       IN A   12.34.56.78
mx      IN A   12.34.56.78
@       IN MX  10 mx
@  600  IN TXT "v=spf1 mx ~all"
s1._domainkey IN TXT "v=DKIM1; k=rsa; " "p=MIIBIjAN" ; two strings, as published
_dmarc  IN TXT "v=DMARC1; p=none"
www     IN CNAME @
)";

TEST(ZoneIo, LoadsBindZoneText) {
  world::World w;
  load_zone_text(w, kZone, {}, "nodeseek.zone");
  EXPECT_EQ(w.zones(), (std::set<std::string>{"nodeseek.com"}));
  auto mx = w.find("nodeseek.com", RrType::MX);
  ASSERT_EQ(mx.size(), 1u);
  EXPECT_EQ(mx[0].preference, 10);
  EXPECT_EQ(mx[0].value, "mx.nodeseek.com");
  EXPECT_EQ(mx[0].ttl, 300u);
  auto spf = w.find("nodeseek.com", RrType::TXT);
  ASSERT_EQ(spf.size(), 1u);
  EXPECT_EQ(spf[0].ttl, 600u);
  EXPECT_EQ(spf[0].strings, (std::vector<std::string>{"v=spf1 mx ~all"}));
  auto dkim = w.find("s1._domainkey.nodeseek.com", RrType::TXT);
  ASSERT_EQ(dkim.size(), 1u);
  EXPECT_EQ(dkim[0].strings, (std::vector<std::string>{"v=DKIM1; k=rsa; ", "p=MIIBIjAN"}));
  // The file's own SOA and NS, not add_zone's defaults.
  auto soa = w.find("nodeseek.com", RrType::SOA);
  ASSERT_EQ(soa.size(), 1u);
  EXPECT_NE(soa[0].value.find("ns1.nodeseek.com."), std::string::npos);
  auto ns = w.find("nodeseek.com", RrType::NS);
  ASSERT_EQ(ns.size(), 1u);
  EXPECT_EQ(ns[0].value, "ns1.nodeseek.com");
  auto r = make_world_resolver(w);
  EXPECT_EQ(r->query("www.nodeseek.com", RrType::A).of_type(RrType::A)[0].value, "12.34.56.78");
}

TEST(ZoneIo, ErrorsNameSourceAndLine) {
  world::World w;
  try {
    load_zone_text(w, "$ORIGIN a.test.\n@ IN SOA ns a 1 2 3 4 5\nok IN A 192.0.2.1\nbad IN A 1.2.3\n",
                   {}, "broken.zone");
    FAIL() << "a bad A record loaded";
  } catch (const ZoneError& e) {
    EXPECT_NE(std::string(e.what()).find("broken.zone:4"), std::string::npos) << e.what();
  }
  try {
    world::World w2;
    load_zone_text(w2, "$ORIGIN a.test.\n@ IN SOA ns a 1 2 3 4 5\nsrv IN SRV 0 0 25 x\n", {},
                   "srv.zone");
    FAIL() << "an SRV record loaded into a world that cannot model it";
  } catch (const ZoneError& e) {
    EXPECT_NE(std::string(e.what()).find("srv.zone:3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("SRV"), std::string::npos) << e.what();
  }
  world::World w3;
  EXPECT_THROW(load_zone_text(w3, "x.test. IN A 192.0.2.1\n"), ZoneError);  // no zone
  EXPECT_THROW(load_zone_file(w3, "/nonexistent/zone"), ZoneError);
}

TEST(ZoneIo, OriginOptionDeclaresTheZone) {
  world::World w;
  load_zone_text(w, "@ IN A 192.0.2.9\nmail 60 IN A 192.0.2.10\n", {.origin = "b.test"});
  EXPECT_EQ(w.zones().count("b.test"), 1u);
  ASSERT_EQ(w.find("mail.b.test", RrType::A).size(), 1u);
  EXPECT_EQ(w.find("mail.b.test", RrType::A)[0].ttl, 60u);
}

std::filesystem::path vectors() {
  if (const char* env = std::getenv("MAILSIM_VECTORS")) return env;
  return MAILSIM_VECTORS_DEFAULT;
}

TEST(OpenSpfSuite, MapsTheSuiteConventions) {
  const char* yaml = R"(
description: Record lookup
tests:
  both:
    spec: 4.4/1
    helo: mail.example.net
    host: 1.2.3.4
    mailfrom: foo@both.example.net
    result: fail
  multi:
    spec: [4.5/4, 4.5/5]
    helo: h
    host: 1.2.3.4
    mailfrom: foo@x.example.net
    result: [permerror, fail]
    explanation: postmaster
zonedata:
  both.example.net:
    - TXT:  v=spf1 -all
    - SPF:  v=spf1 +all
  spfonly.example.net:
    - SPF:  v=spf1 -all
    - TXT:  NONE
  dup.example.net:
    - SPF: [ "v=spf1 ip4:", "192.0.2.5 -all" ]
  txttimeout.example.net:
    - TXT:  v=spf1 -all
    - TIMEOUT
  alltimeout.example.net:
    - TIMEOUT
  mx.example.net:
    - MX: [10, Mail.Example.NET]
---
description: second
tests: {}
zonedata:
  only.example.org:
    - A: 192.0.2.1
)";
  auto sections = parse_openspf_suite(yaml, "inline");
  ASSERT_EQ(sections.size(), 2u);
  const auto& s = sections[0];
  EXPECT_EQ(s.description, "Record lookup");
  ASSERT_EQ(s.tests.size(), 2u);
  EXPECT_EQ(s.tests[0].name, "both");
  EXPECT_EQ(s.tests[0].results, (std::vector<std::string>{"fail"}));
  EXPECT_EQ(s.tests[1].results, (std::vector<std::string>{"permerror", "fail"}));
  EXPECT_EQ(s.tests[1].spec, "4.5/4");
  EXPECT_EQ(s.tests[1].explanation, "postmaster");

  auto r = make_world_resolver(s.world);
  // both: TXT as published, the SPF-type record apart.
  auto both = r->query("both.example.net", RrType::TXT);
  ASSERT_TRUE(both.ok());
  ASSERT_EQ(both.records.size(), 1u);
  EXPECT_EQ(both.records[0].text(), "v=spf1 -all");
  EXPECT_EQ(r->query("both.example.net", RrType::SPF).records[0].text(), "v=spf1 +all");
  // TXT: NONE → no TXT, no duplication.
  EXPECT_EQ(r->query("spfonly.example.net", RrType::TXT).status, DnsStatus::nodata);
  // SPF only → duplicated into TXT, strings kept apart.
  auto dup = r->query("dup.example.net", RrType::TXT);
  ASSERT_TRUE(dup.ok());
  EXPECT_EQ(dup.records[0].strings, (std::vector<std::string>{"v=spf1 ip4:", "192.0.2.5 -all"}));
  // TIMEOUT after TXT: TXT answers, the rest times out.
  EXPECT_TRUE(r->query("txttimeout.example.net", RrType::TXT).ok());
  EXPECT_EQ(r->query("txttimeout.example.net", RrType::A).status, DnsStatus::timeout);
  EXPECT_EQ(r->query("alltimeout.example.net", RrType::TXT).status, DnsStatus::timeout);
  EXPECT_EQ(r->query("mx.example.net", RrType::MX).records[0].value, "mail.example.net");
  // Unknown names are NXDOMAIN, not REFUSED: the world is the root zone.
  EXPECT_EQ(r->query("nowhere.example.com", RrType::TXT).status, DnsStatus::nxdomain);
  // Sections are separate worlds.
  auto r2 = make_world_resolver(sections[1].world);
  EXPECT_EQ(r2->query("both.example.net", RrType::TXT).status, DnsStatus::nxdomain);
  EXPECT_TRUE(r2->query("only.example.org", RrType::A).ok());
}

TEST(OpenSpfSuite, LoadsTheRealRfc7208Suite) {
  auto path = vectors() / "spf" / "rfc7208-tests.yml";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no OpenSPF vectors at " << path;
  auto sections = load_openspf_suite(path);
  ASSERT_GE(sections.size(), 10u);
  std::size_t tests = 0;
  for (const auto& s : sections) {
    tests += s.tests.size();
    for (const auto& t : s.tests) EXPECT_FALSE(t.results.empty()) << t.name;
  }
  EXPECT_GT(tests, 150u);
  EXPECT_EQ(sections[0].description, "Initial processing");
  auto r = make_world_resolver(sections[0].world);
  EXPECT_EQ(r->query("example.com", RrType::TXT).status, DnsStatus::timeout);
  // null.example.com: SPF: [ "v=spf1 ip4:", "192.0.2.5 -all" ] and an empty SPF: [ ].
  auto null_txt = r->query("null.example.com", RrType::TXT);
  ASSERT_TRUE(null_txt.ok());
  EXPECT_EQ(null_txt.records.size(), 2u);
  EXPECT_EQ(null_txt.records[0].strings,
            (std::vector<std::string>{"v=spf1 ip4:", "192.0.2.5 -all"}));
}

TEST(OpenSpfSuite, LoadsTheRfc4408Suite) {
  auto path = vectors() / "spf" / "rfc4408-tests.yml";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no OpenSPF vectors at " << path;
  auto sections = load_openspf_suite(path);
  ASSERT_GE(sections.size(), 10u);
  for (const auto& s : sections) EXPECT_FALSE(s.tests.empty()) << s.description;
}

TEST(OpenSpfSuite, ErrorsNameTheEntry) {
  try {
    parse_openspf_suite("description: x\ntests: {}\nzonedata:\n  a.test:\n    - BOGUS: 1\n", "s.yml");
    FAIL();
  } catch (const ZoneError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("s.yml"), std::string::npos) << what;
    EXPECT_NE(what.find("a.test"), std::string::npos) << what;
    EXPECT_NE(what.find("BOGUS"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace mailsim::dns
