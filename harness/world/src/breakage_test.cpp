#include "mailsim/world/breakage.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mailsim/world/baseline.hpp"

namespace mailsim::world {
namespace {

using ::testing::HasSubstr;

World broken(std::vector<Breakage> bs, BreakageStage stage = BreakageStage::world) {
  World w = guide_baseline();
  apply_breakages(w, bs, stage);
  return w;
}

std::string error_of(const Breakage& b, World w = guide_baseline()) {
  try {
    apply_breakage(w, b);
  } catch (const BreakageError& e) {
    return e.what();
  }
  return "(no error)";
}

// A world whose SUT has published a 2048-bit-sized DKIM key (≈ 400 characters).
World published() {
  World w = guide_baseline();
  std::string key = "v=DKIM1; k=rsa; p=" + std::string(392, 'A');
  w.add(make_txt("s20260101._domainkey.nodeseek.com", key));
  return w;
}
const char* kDkimName = "s20260101._domainkey.nodeseek.com";

TEST(BreakageCatalog, SortedWithModelsAndStages) {
  const auto& cat = breakage_catalog();
  ASSERT_GE(cat.size(), 20u);
  for (std::size_t i = 1; i < cat.size(); ++i) EXPECT_LT(cat[i - 1].name, cat[i].name);
  for (const auto& b : cat) EXPECT_FALSE(b.models.empty()) << b.name;
  EXPECT_EQ(find_breakage("dkim.truncate")->stage, BreakageStage::publish);
  EXPECT_EQ(find_breakage("spf.set")->stage, BreakageStage::world);
  EXPECT_EQ(find_breakage("nope"), nullptr);
}

TEST(BreakageErrors, UnknownNameListsEveryName) {
  std::string e = error_of({"spf.sett", {}});
  EXPECT_THAT(e, HasSubstr("unknown breakage 'spf.sett'; valid: "));
  for (const auto& b : breakage_catalog()) EXPECT_THAT(e, HasSubstr(b.name));
  EXPECT_THAT(e, HasSubstr("did you mean 'spf.set'?"));
}

TEST(BreakageErrors, UnknownParamListsTheBreakagesParams) {
  EXPECT_EQ(error_of({"spf.set", {{"nmae", "@"}, {"value", "v=spf1 -all"}}}),
            "spf.set: unknown parameter 'nmae'; valid: name, value");
  EXPECT_THAT(error_of({"dmarc.remove", {{"x", "1"}}}), HasSubstr("valid: (none)"));
}

TEST(BreakageErrors, MissingAndBadValues) {
  EXPECT_THAT(error_of({"spf.set", {}}), HasSubstr("spf.set: missing parameter 'value'"));
  EXPECT_THAT(error_of({"dkim.truncate", {{"at", "x"}}}, published()),
              HasSubstr("'at' must be a whole number"));
  EXPECT_THAT(error_of({"dns.fault", {{"name", "mx"}, {"kind", "flaky"}}}),
              HasSubstr("valid: servfail, timeout, tc, refused"));
  EXPECT_THAT(error_of({"record.add", {{"name", "x"}, {"type", "SPFF"}, {"value", "1"}}}),
              HasSubstr("unknown record type 'SPFF'; valid: A,"));
  EXPECT_THAT(error_of({"record.add", {{"name", "x"}, {"type", "A"}, {"value", "mx"}}}),
              HasSubstr("not an IPv4 address"));
  EXPECT_THAT(error_of({"ptr.remove", {{"address", "bogus"}}}), HasSubstr("'server'"));
  EXPECT_THAT(error_of({"dnsbl.listed", {{"code", "10.0.0.2"}}}), HasSubstr("127.0.0.0/8"));
  EXPECT_THAT(error_of({"tls.off", {{"host", "web"}}}), HasSubstr("no host 'web'"));
  EXPECT_THAT(error_of({"spf.set", {{"value", "v=DMARC1"}}}), HasSubstr("v=spf1"));
  // validate_breakage checks the same without a world.
  EXPECT_THROW(validate_breakage({"dns.fault", {{"name", "mx"}, {"kind", "flaky"}}}),
               BreakageError);
  EXPECT_NO_THROW(validate_breakage({"dns.fault", {{"name", "mx"}}}));
}

TEST(Breakages, SpfSetRemoveAdd) {
  World w = broken({{"spf.set", {{"value", "v=spf1 mx ~all"}}}});
  ASSERT_EQ(w.find_txt("nodeseek.com", "v=spf1").size(), 1u);
  EXPECT_EQ(w.find_txt("nodeseek.com", "v=spf1")[0].text(), "v=spf1 mx ~all");
  w = broken({{"spf.remove", {{"name", "mx"}}}});
  EXPECT_TRUE(w.find_txt("mx.nodeseek.com", "v=spf1").empty());
  EXPECT_EQ(w.find_txt("nodeseek.com", "v=spf1").size(), 1u);
  w = broken({{"spf.add", {}}});
  EXPECT_EQ(w.find_txt("nodeseek.com", "v=spf1").size(), 2u);
  EXPECT_THAT(error_of({"spf.remove", {}}, w = broken({{"spf.remove", {}}})),
              HasSubstr("no SPF record"));
}

TEST(Breakages, PtrRemoveSetMismatch) {
  const std::string rev = "78.56.34.12.in-addr.arpa";
  World w = broken({{"ptr.remove", {}}});
  EXPECT_TRUE(w.find(rev, RrType::PTR).empty());
  EXPECT_TRUE(w.zone_for(rev));  // NXDOMAIN, not REFUSED
  w = broken({{"ptr.set", {{"name", "server1.hosting.example"}}}});
  EXPECT_EQ(w.find(rev, RrType::PTR).at(0).value, "server1.hosting.example");
  w = broken({{"rdns.mismatch", {}}});
  const std::string target = "78.56.34.12.vps.example-hosting.net";
  EXPECT_EQ(w.find(rev, RrType::PTR).at(0).value, target);
  EXPECT_EQ(w.find(target, RrType::A).at(0).value, "12.34.56.78");  // forward-confirmed
  EXPECT_NE(target, w.find("nodeseek.com", RrType::MX).at(0).value);
}

TEST(Breakages, DkimTruncateCutsAtTheGivenLength) {
  World w = published();
  apply_breakages(w, {{"dkim.truncate", {}}}, BreakageStage::world);  // wrong stage: no-op
  EXPECT_EQ(w.find(kDkimName, RrType::TXT).at(0).text().size(), 410u);
  apply_breakages(w, {{"dkim.truncate", {}}}, BreakageStage::publish);
  auto r = w.find(kDkimName, RrType::TXT);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].text().size(), 255u);
  EXPECT_EQ(r[0].strings.size(), 1u);
  EXPECT_THAT(error_of({"dkim.truncate", {}}), HasSubstr("no DKIM key record"));
}

TEST(Breakages, DkimSplitSpaceInsertsQuotesOrASpace) {
  World w = published();
  std::string before = w.find(kDkimName, RrType::TXT).at(0).text();
  apply_breakage(w, {"dkim.split_space", {{"at", "200"}}});
  std::string after = w.find(kDkimName, RrType::TXT).at(0).text();
  EXPECT_EQ(after, before.substr(0, 200) + "\" \"" + before.substr(200));
  w = published();
  apply_breakage(w, {"dkim.split_space", {{"at", "200"}, {"mode", "space"}}});
  EXPECT_EQ(w.find(kDkimName, RrType::TXT).at(0).text(),
            before.substr(0, 200) + " " + before.substr(200));
  EXPECT_THAT(error_of({"dkim.split_space", {{"mode", "tab"}}}, published()),
              HasSubstr("valid: quotes, space"));
}

TEST(Breakages, DkimUnpublishedRemovesOnlyKeys) {
  World w = published();
  w.add(make_txt(kDkimName, "unrelated note"));
  apply_breakages(w, {{"dkim.unpublished", {}}}, BreakageStage::publish);
  auto r = w.find(kDkimName, RrType::TXT);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].text(), "unrelated note");
}

TEST(Breakages, ProxyOnPointsAtCloudflareAndKeepsTheOrigin) {
  World w = broken({{"proxy.on", {}}});
  EXPECT_EQ(w.find("mx.nodeseek.com", RrType::A).at(0).value, "104.21.48.10");
  const Host* proxy = w.host_by_address("104.21.48.10");
  ASSERT_NE(proxy, nullptr);
  EXPECT_EQ(proxy->role, HostRole::proxy);
  EXPECT_EQ(proxy->open_ports, (std::set<std::uint16_t>{80, 443}));
  EXPECT_EQ(w.host_by_address("12.34.56.78")->name, "mx.nodeseek.com");
  // The PTR still names mx, which no longer resolves back: FCrDNS breaks.
  EXPECT_EQ(w.find("78.56.34.12.in-addr.arpa", RrType::PTR).at(0).value, "mx.nodeseek.com");
  EXPECT_THAT(error_of({"proxy.on", {{"name", "_dmarc"}}}), HasSubstr("no A record"));
}

TEST(Breakages, Port25BlockedAndTlsOff) {
  World w = broken({{"port25.blocked", {}}, {"tls.off", {}}});
  const Host* h = w.host("mx.nodeseek.com");
  EXPECT_TRUE(h->blocked_egress_ports.contains(25));
  EXPECT_FALSE(h->starttls);
  EXPECT_TRUE(w.host("gmail-smtp-in.l.google.com")->starttls);
}

TEST(Breakages, DmarcSetRemoveAndRootA) {
  World w = broken({{"dmarc.set", {{"value", "v=DMARC1; p=none"}}}});
  EXPECT_EQ(w.find_txt("_dmarc.nodeseek.com", "v=DMARC1").at(0).text(), "v=DMARC1; p=none");
  w = broken({{"dmarc.remove", {}}, {"root_a.remove", {}}});
  EXPECT_TRUE(w.find_txt("_dmarc.nodeseek.com", "v=DMARC1").empty());
  EXPECT_TRUE(w.find("nodeseek.com", RrType::A).empty());
  EXPECT_FALSE(w.find("mx.nodeseek.com", RrType::A).empty());
}

TEST(Breakages, RecordAddReplaceRemoveInPresentationForm) {
  World w = broken({{"record.add", {{"name", "@"}, {"type", "TXT"},
                                    {"value", "\"v=spf1 \" \"-all\""}}}});
  auto spf = w.find_txt("nodeseek.com", "v=spf1");
  ASSERT_EQ(spf.size(), 2u);
  EXPECT_EQ(spf[1].strings, (std::vector<std::string>{"v=spf1 ", "-all"}));
  w = broken({{"record.replace", {{"name", "@"}, {"type", "MX"}, {"value", "20 mail"}}}});
  auto mx = w.find("nodeseek.com", RrType::MX);
  ASSERT_EQ(mx.size(), 1u);
  EXPECT_EQ(mx[0].preference, 20);
  EXPECT_EQ(mx[0].value, "mail.nodeseek.com");
  w = broken({{"record.remove", {{"name", "@"}, {"type", "TXT"}, {"value", "v=spf1 a mx -all"}}}});
  EXPECT_TRUE(w.find_txt("nodeseek.com", "v=spf1").empty());
  EXPECT_THAT(error_of({"record.remove", {{"name", "nope"}, {"type", "A"}}}),
              HasSubstr("no A record at nope.nodeseek.com"));
  // Absolute names: inside another zone or with a trailing dot.
  w = broken({{"record.remove", {{"name", "gmail.com"}, {"type", "MX"}}}});
  EXPECT_TRUE(w.find("gmail.com", RrType::MX).empty());
}

TEST(Breakages, DnsFaultOnRelativeName) {
  World w = broken({{"dns.fault", {{"name", "_dmarc"}, {"type", "TXT"}}}});
  EXPECT_EQ(w.fault_for("_dmarc.nodeseek.com", RrType::TXT), DnsFaultKind::servfail);
  EXPECT_EQ(w.fault_for("_dmarc.nodeseek.com", RrType::A), std::nullopt);
  w = broken({{"dns.fault", {{"name", "mx"}, {"kind", "timeout"}}}});
  EXPECT_EQ(w.fault_for("mx.nodeseek.com", RrType::A), DnsFaultKind::timeout);
}

TEST(Breakages, DnsblListedUsesRfc5782Layout) {
  World w = broken({{"dnsbl.listed", {}}});
  auto a = w.find("78.56.34.12.zen.spamhaus.org", RrType::A);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].value, "127.0.0.2");
  EXPECT_THAT(w.find("78.56.34.12.zen.spamhaus.org", RrType::TXT).at(0).text(),
              HasSubstr("12.34.56.78"));
}

TEST(Breakages, Ipv6AddGivesAaaaWithoutPtr) {
  World w = broken({{"ipv6.add", {}}});
  EXPECT_EQ(w.find("mx.nodeseek.com", RrType::AAAA).at(0).value, "2a01:4f8:1:2::78");
  const Host* h = w.host("mx.nodeseek.com");
  EXPECT_EQ(h->addresses, (std::vector<std::string>{"12.34.56.78", "2a01:4f8:1:2::78"}));
  std::string rev = reverse_name("2a01:4f8:1:2::78");
  EXPECT_TRUE(w.find(rev, RrType::PTR).empty());
  EXPECT_TRUE(w.zone_for(rev));  // NXDOMAIN, not REFUSED
}

}  // namespace
}  // namespace mailsim::world
