#include "mailsim/world/baseline.hpp"

#include <gtest/gtest.h>

namespace mailsim::world {
namespace {

std::vector<std::string> texts(const std::vector<Record>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(r.text());
  return out;
}

// Guide §2 table, row by row.
TEST(GuideBaseline, HasTheGuideSection2Records) {
  World w = guide_baseline();
  auto a = w.find("mx.nodeseek.com", RrType::A);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].value, "12.34.56.78");
  auto mx = w.find("nodeseek.com", RrType::MX);
  ASSERT_EQ(mx.size(), 1u);
  EXPECT_EQ(mx[0].preference, 10);
  EXPECT_EQ(mx[0].value, "mx.nodeseek.com");
  EXPECT_EQ(texts(w.find_txt("nodeseek.com", "v=spf1")),
            std::vector<std::string>{"v=spf1 a mx -all"});
  EXPECT_EQ(texts(w.find_txt("mx.nodeseek.com", "v=spf1")),
            std::vector<std::string>{"v=spf1 a -all"});
  EXPECT_EQ(texts(w.find_txt("_dmarc.nodeseek.com", "v=DMARC1")),
            std::vector<std::string>{"v=DMARC1; p=reject; rua=mailto:postmaster@nodeseek.com; "
                                     "ruf=mailto:postmaster@nodeseek.com"});
  // §2 note: the root A record.
  auto root = w.find("nodeseek.com", RrType::A);
  ASSERT_EQ(root.size(), 1u);
  EXPECT_EQ(root[0].value, "12.34.56.78");
}

TEST(GuideBaseline, ReverseDnsNamesTheMxHostAndIsForwardConfirmed) {  // guide §3
  World w = guide_baseline();
  auto ptr = w.find("78.56.34.12.in-addr.arpa", RrType::PTR);
  ASSERT_EQ(ptr.size(), 1u);
  EXPECT_EQ(ptr[0].value, "mx.nodeseek.com");
  EXPECT_EQ(w.zone_for("78.56.34.12.in-addr.arpa"), "56.34.12.in-addr.arpa");
  EXPECT_EQ(w.find(ptr[0].value, RrType::A).at(0).value, "12.34.56.78");
}

TEST(GuideBaseline, DkimIsLeftForTheSetupToPublish) {  // guide §6
  World w = guide_baseline();
  for (const auto& r : w.records()) {
    EXPECT_EQ(r.name.find("_domainkey"), std::string::npos) << r.to_zone_line();
  }
}

TEST(GuideBaseline, SutHostHasTheGuidePorts) {
  World w = guide_baseline();
  const Host* h = w.host("mx.nodeseek.com");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->role, HostRole::sut);
  EXPECT_EQ(h->addresses, std::vector<std::string>{"12.34.56.78"});
  EXPECT_EQ(h->open_ports, (std::set<std::uint16_t>{25, 80, 443, 465, 587}));
  EXPECT_TRUE(h->starttls);
  EXPECT_TRUE(h->blocked_egress_ports.empty());
  EXPECT_EQ(w.host_by_address("12.34.56.78"), h);
}

TEST(GuideBaseline, EveryPersonaHasMxAFcrdnsSpfDmarcAndASender) {
  World w = guide_baseline();
  ASSERT_EQ(persona_domains().size(), 5u);
  for (const auto& p : persona_domains()) {
    SCOPED_TRACE(p.persona);
    auto mx = w.find(p.domain, RrType::MX);
    ASSERT_EQ(mx.size(), 1u);
    EXPECT_EQ(mx[0].value, p.mx_host);
    const Host* rx = w.host(p.mx_host);
    ASSERT_NE(rx, nullptr);
    EXPECT_EQ(rx->role, HostRole::receiver);
    EXPECT_EQ(rx->persona, p.persona);
    EXPECT_TRUE(rx->open_ports.contains(25));
    EXPECT_EQ(w.find_txt(p.domain, "v=spf1").size(), 1u);
    EXPECT_EQ(w.find_txt("_dmarc." + p.domain, "v=DMARC1").size(), 1u);
    int senders = 0;
    for (const auto& h : w.hosts()) {
      if (h.persona != p.persona) continue;
      // Forward-confirmed reverse DNS for every persona host (RFC 8601 §3 "iprev").
      for (const auto& ip : h.addresses) {
        auto ptr = w.find(reverse_name(ip), RrType::PTR);
        ASSERT_EQ(ptr.size(), 1u) << ip;
        EXPECT_EQ(ptr[0].value, h.name);
        EXPECT_EQ(w.find(h.name, is_ipv6(ip) ? RrType::AAAA : RrType::A).at(0).value, ip);
      }
      if (h.role == HostRole::sender) ++senders;
    }
    EXPECT_EQ(senders, 1);
  }
  EXPECT_EQ(persona_domains()[0].mx_host, "gmail-smtp-in.l.google.com");
  EXPECT_NE(w.find_txt("_dmarc.yahoo.com", "v=DMARC1")[0].text().find("p=reject"),
            std::string::npos);
  EXPECT_NE(w.find_txt("_dmarc.gmail.com", "v=DMARC1")[0].text().find("p=none"),
            std::string::npos);
  EXPECT_NE(w.host("mail-sor-f41.google.com"), nullptr);
  EXPECT_EQ(w.find("gmail-smtp-in.l.google.com", RrType::AAAA).size(), 1u);
  EXPECT_TRUE(w.find("mta5.am0.yahoodns.net", RrType::AAAA).empty());
}

TEST(GuideBaseline, FakeDnsAndEmptyDnsbl) {
  World w = guide_baseline();
  const Host* ns = w.host(kFakeDnsHost);
  ASSERT_NE(ns, nullptr);
  EXPECT_EQ(ns->role, HostRole::dns);
  EXPECT_TRUE(w.zones().contains(kDnsblZone));
  for (const auto& r : w.records()) {
    if (name_in_zone(r.name, kDnsblZone)) {
      EXPECT_TRUE(r.type == RrType::SOA || r.type == RrType::NS) << r.to_zone_line();
    }
  }
}

TEST(GuideBaseline, OptionsChangeDomainAddressAndRootA) {
  BaselineOptions o;
  o.domain = "example.org";
  o.mx_label = "mail";
  o.server_ipv4 = "98.76.54.32";
  o.server_ipv6 = "2a01:4f8::1";
  o.root_a = false;
  World w = guide_baseline(o);
  EXPECT_EQ(w.find("mail.example.org", RrType::A).at(0).value, "98.76.54.32");
  EXPECT_EQ(w.find("mail.example.org", RrType::AAAA).at(0).value, "2a01:4f8::1");
  EXPECT_EQ(w.find(reverse_name("2a01:4f8::1"), RrType::PTR).at(0).value, "mail.example.org");
  EXPECT_TRUE(w.find("example.org", RrType::A).empty());
  o.server_ipv4 = "mx.example";
  EXPECT_THROW(guide_baseline(o), std::invalid_argument);
}

TEST(GuideBaseline, IsDeterministic) { EXPECT_EQ(guide_baseline(), guide_baseline()); }

}  // namespace
}  // namespace mailsim::world
