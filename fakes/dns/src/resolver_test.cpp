// The in-process resolver's semantics: the same answers the FakeDnsServer gives on the wire.
#include <gtest/gtest.h>

#include "mailsim/dns/resolver.hpp"
#include "mailsim/world/world.hpp"

namespace mailsim::dns {
namespace {

using world::DnsFaultKind;

world::World sample_world() {
  world::World w;
  w.add_zone("example.com");
  w.add(world::make_a("example.com", "192.0.2.1"));
  w.add(world::make_a("mail.example.com", "192.0.2.25"));
  w.add(world::make_mx("example.com", 10, "mail.example.com"));
  w.add(world::make_txt_strings("example.com", {"v=spf1 ", "mx -all"}));
  w.add(world::make_cname("www.example.com", "example.com"));
  w.add(world::make_cname("loop1.example.com", "loop2.example.com"));
  w.add(world::make_cname("loop2.example.com", "loop1.example.com"));
  w.add(world::make_cname("out.example.com", "elsewhere.org"));
  w.add(world::make_cname("dangling.example.com", "nothere.example.com"));
  // _domainkey has nothing of its own but a record below it: an empty non-terminal.
  w.add(world::make_txt("sel._domainkey.example.com", "v=DKIM1; p=abc"));
  return w;
}

TEST(WorldResolver, AnswersRecordsOfTheType) {
  auto w = sample_world();
  auto r = make_world_resolver(w);
  auto a = r->query("MAIL.example.com.", RrType::A);
  ASSERT_EQ(a.status, DnsStatus::ok);
  ASSERT_EQ(a.records.size(), 1u);
  EXPECT_EQ(a.records[0].value, "192.0.2.25");
  EXPECT_EQ(a.summary(), "A 192.0.2.25");

  auto txt = r->query("example.com", RrType::TXT);
  ASSERT_TRUE(txt.ok());
  EXPECT_EQ(txt.records[0].strings, (std::vector<std::string>{"v=spf1 ", "mx -all"}));
  EXPECT_EQ(txt.summary(), "TXT \"v=spf1 \" \"mx -all\"");
}

TEST(WorldResolver, NxdomainVersusNodataIncludingEmptyNonTerminals) {
  auto w = sample_world();
  auto r = make_world_resolver(w);
  EXPECT_EQ(r->query("nope.example.com", RrType::A).status, DnsStatus::nxdomain);
  EXPECT_EQ(r->query("mail.example.com", RrType::TXT).status, DnsStatus::nodata);
  // RFC 8020: _domainkey.example.com exists because sel._domainkey.example.com does.
  EXPECT_EQ(r->query("_domainkey.example.com", RrType::TXT).status, DnsStatus::nodata);
  EXPECT_EQ(r->query("x.sel._domainkey.example.com", RrType::TXT).status, DnsStatus::nxdomain);
  EXPECT_EQ(r->query("example.com", RrType::AAAA).summary(), "NODATA");
}

TEST(WorldResolver, ChasesCnamesAndBoundsLoops) {
  auto w = sample_world();
  auto r = make_world_resolver(w);
  auto a = r->query("www.example.com", RrType::A);
  ASSERT_EQ(a.status, DnsStatus::ok);
  ASSERT_EQ(a.records.size(), 2u);
  EXPECT_EQ(a.records[0].type, RrType::CNAME);
  EXPECT_EQ(a.of_type(RrType::A).size(), 1u);
  EXPECT_EQ(a.of_type(RrType::A)[0].value, "192.0.2.1");

  // The CNAME itself, when asked for.
  auto c = r->query("www.example.com", RrType::CNAME);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.records.size(), 1u);

  EXPECT_EQ(r->query("loop1.example.com", RrType::A).status, DnsStatus::servfail);
  auto dangling = r->query("dangling.example.com", RrType::A);
  EXPECT_EQ(dangling.status, DnsStatus::nxdomain);
  EXPECT_EQ(dangling.records.size(), 1u);  // the chain up to where it broke
  EXPECT_EQ(dangling.summary(), "CNAME nothere.example.com., NXDOMAIN");
  EXPECT_EQ(r->query("out.example.com", RrType::A).status, DnsStatus::refused);
}

TEST(WorldResolver, RefusesNamesOutsideTheWorld) {
  auto w = sample_world();
  auto r = make_world_resolver(w);
  EXPECT_EQ(r->query("gmail.com", RrType::MX).status, DnsStatus::refused);
  EXPECT_EQ(r->query("notexample.com", RrType::A).status, DnsStatus::refused);
}

TEST(WorldResolver, AppliesFaults) {
  auto w = sample_world();
  w.add_fault({"example.com", RrType::TXT, DnsFaultKind::servfail});
  w.add_fault({"mail.example.com", std::nullopt, DnsFaultKind::timeout});
  w.add_fault({"nope.example.com", std::nullopt, DnsFaultKind::refused});
  w.add_fault({"www.example.com", std::nullopt, DnsFaultKind::truncate});
  auto r = make_world_resolver(w);
  auto txt = r->query("example.com", RrType::TXT);
  EXPECT_EQ(txt.status, DnsStatus::servfail);
  EXPECT_TRUE(txt.temporary_error());
  EXPECT_EQ(r->query("example.com", RrType::MX).status, DnsStatus::ok);  // type-specific
  EXPECT_EQ(r->query("mail.example.com", RrType::A).status, DnsStatus::timeout);
  EXPECT_EQ(r->query("mail.example.com", RrType::MX).status, DnsStatus::timeout);
  EXPECT_EQ(r->query("nope.example.com", RrType::A).status, DnsStatus::refused);
  // truncate only matters over UDP.
  EXPECT_EQ(r->query("www.example.com", RrType::A).status, DnsStatus::ok);
}

TEST(WorldResolver, SeesRecordsAddedAfterCreation) {
  auto w = sample_world();
  auto r = make_world_resolver(w);
  EXPECT_EQ(r->query("s1._domainkey.example.com", RrType::TXT).status, DnsStatus::nxdomain);
  w.add(world::make_txt("s1._domainkey.example.com", "v=DKIM1; p=xyz"));
  EXPECT_TRUE(r->query("s1._domainkey.example.com", RrType::TXT).ok());
}

TEST(DnsStatus, Names) {
  EXPECT_EQ(to_string(DnsStatus::nxdomain), "NXDOMAIN");
  EXPECT_EQ(to_string(DnsStatus::ok), "NOERROR");
  EXPECT_EQ(to_string(DnsStatus::timeout), "TIMEOUT");
}

}  // namespace
}  // namespace mailsim::dns
