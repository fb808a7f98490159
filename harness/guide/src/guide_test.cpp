// Guide parsing and checks over the founding guide (../shared/reference/posteio-guide.md,
// skipped when absent) and over small synthetic English guides.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "mailsim/dns/resolver.hpp"
#include "mailsim/guide/check.hpp"
#include "mailsim/guide/guide.hpp"

namespace mailsim::guide {
namespace {

std::filesystem::path founding_guide() {
  if (const char* shared = std::getenv("MAILSIM_SHARED"))
    return std::filesystem::path(shared) / "reference" / "posteio-guide.md";
  return std::filesystem::path(MAILSIM_SOURCE_DIR) / ".." / "shared" / "reference" / "posteio-guide.md";
}

const GuideFinding* finding(const GuideCheck& c, std::string_view id) {
  for (const auto& f : c.findings)
    if (f.id == id) return &f;
  return nullptr;
}

std::string ids(const GuideCheck& c) {
  std::string s;
  for (const auto& f : c.findings) s += f.id + "@" + std::to_string(f.line) + " ";
  return s;
}

// A good English guide: every record a reader needs, priority in its own column.
constexpr const char* kGoodGuide = R"(# Mail server for example.org

Our server is 192.0.2.10 and the mail host is mail.example.org.

## DNS records

| Type | Name | Priority | Value | Note |
|------|------|----------|-------|------|
| A    | mail |          | 192.0.2.10 | the server |
| MX   | @    | 20       | mail.example.org | |
| TXT  | @    |          | v=spf1 mx -all | SPF |
| TXT  | _dmarc |        | v=DMARC1; p=quarantine; rua=mailto:dmarc@example.org | |
| TXT  | default._domainkey | | v=DKIM1; k=rsa; p=<your key> | from the admin panel |

## Reverse DNS

Ask your provider to set the PTR of 192.0.2.10 to mail.example.org.

Create the mailbox dmarc@example.org in the admin panel.
)";

TEST(GuideParse, FoundingGuideTablesRowsAndLines) {
  auto path = founding_guide();
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "founding guide not found at " << path;
  auto g = parse_guide_file(path);
  ASSERT_EQ(g.tables.size(), 3u);
  EXPECT_EQ(g.tables[0].kind, TableKind::primary);
  EXPECT_EQ(g.tables[1].kind, TableKind::primary);        // §6 DKIM table (second *part*)
  EXPECT_EQ(g.tables[2].kind, TableKind::second_domain);  // §7 "示例其他域名 DNS 记录"
  ASSERT_EQ(g.tables[0].rows.size(), 5u);
  const auto& a = g.tables[0].rows[0];
  EXPECT_EQ(a.type, "A");
  EXPECT_EQ(a.host, "mx");
  EXPECT_EQ(a.value, "12.34.56.78");
  EXPECT_EQ(a.note, "邮件服务器地址");
  EXPECT_EQ(a.line, 36);  // the guide's `| A | mx | 12.34.56.78 |` row
  EXPECT_EQ(g.tables[0].rows[1].note, "优先级 10");
  EXPECT_EQ(g.tables[0].rows[4].line, 40);
  EXPECT_EQ(g.domain, "nodeseek.com");
  EXPECT_EQ(g.ip, "12.34.56.78");
  ASSERT_TRUE(g.rdns.has_value());
  EXPECT_EQ(g.rdns->target, "mx.nodeseek.com");
  EXPECT_EQ(g.rdns->ip, "12.34.56.78");
  EXPECT_EQ(g.rdns->line, 53);  // "- 设置服务器 IP（如 `12.34.56.78`）的 rDNS 指向 …"
  EXPECT_NE(std::find(g.created_mailboxes.begin(), g.created_mailboxes.end(), "admin@nodeseek.com"),
            g.created_mailboxes.end());
}

TEST(GuideCheck, FoundingGuideBuildsTheReadersWorld) {
  auto path = founding_guide();
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "founding guide not found at " << path;
  auto c = check_guide(parse_guide_file(path));
  EXPECT_EQ(c.names.domain, "nodeseek.com");
  EXPECT_EQ(c.names.mx_host, "mx.nodeseek.com");
  EXPECT_EQ(c.names.second_domain, "example.com");
  auto mx = c.world.find("nodeseek.com", world::RrType::MX);
  ASSERT_EQ(mx.size(), 1u);
  EXPECT_EQ(mx[0].preference, 10);  // from the note "优先级 10"
  EXPECT_EQ(mx[0].value, "mx.nodeseek.com");
  ASSERT_EQ(c.world.find("78.56.34.12.in-addr.arpa", world::RrType::PTR).size(), 1u);
  EXPECT_EQ(c.world.find("78.56.34.12.in-addr.arpa", world::RrType::PTR)[0].value, "mx.nodeseek.com");
  // The table has no apex A: the reader following the rows has none (the note only advises it).
  EXPECT_TRUE(c.world.find("nodeseek.com", world::RrType::A).empty());
  // The DKIM rows are placeholders: the SUT publishes the real key at run time.
  for (const auto& r : c.world.records()) EXPECT_EQ(r.name.find("_domainkey"), std::string::npos);
  // The second domain is a zone of its own with the guide's rows.
  EXPECT_EQ(c.world.find("example.com", world::RrType::MX).at(0).value, "mx.nodeseek.com");
  // Personas come from the baseline.
  EXPECT_FALSE(c.world.find("gmail.com", world::RrType::MX).empty());
  // The guide itself is sound on the checked points: no errors; the apex-A note is flagged.
  EXPECT_EQ(c.errors(), 0) << ids(c);
  const auto* note = finding(c, "root-a.note-only");
  ASSERT_NE(note, nullptr) << ids(c);
  EXPECT_EQ(note->line, 44);  // "> 若根域名没有指向任何地址，建议设置一条 A 记录…"
}

TEST(GuideCheck, FoundingGuideWithTheReadersOwnNames) {
  auto path = founding_guide();
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "founding guide not found at " << path;
  auto c = check_guide(parse_guide_file(path), {"reader.test", "198.51.100.7", ""});
  EXPECT_EQ(c.world.find("mx.reader.test", world::RrType::A).at(0).value, "198.51.100.7");
  EXPECT_EQ(c.world.find("reader.test", world::RrType::MX).at(0).value, "mx.reader.test");
  EXPECT_EQ(c.world.find("7.100.51.198.in-addr.arpa", world::RrType::PTR).at(0).value, "mx.reader.test");
  EXPECT_TRUE(c.world.find("nodeseek.com").empty());
  auto dmarc = c.world.find_txt("_dmarc.reader.test", "v=DMARC1");
  ASSERT_EQ(dmarc.size(), 1u);
  EXPECT_NE(dmarc[0].text().find("postmaster@reader.test"), std::string::npos);
  EXPECT_EQ(c.errors(), 0) << ids(c);
}

TEST(GuideCheck, FoundingGuideWithoutItsARowIsBlamedOnTheMxRow) {
  auto path = founding_guide();
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "founding guide not found at " << path;
  std::ifstream in(path);
  std::string md((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The A row (line 36) names `www` instead of `mx` — an easy slip; line numbers stay.
  auto a = md.find("| A        | mx ");
  ASSERT_NE(a, std::string::npos);
  md.replace(a, 16, "| A        | www");
  auto c = check_guide(parse_guide(md, "broken.md"), {"", "12.34.56.78", ""});
  const auto* f = finding(c, "mx.no-a");
  ASSERT_NE(f, nullptr) << ids(c);
  EXPECT_EQ(f->line, 37);  // | MX | @ | mx.nodeseek.com | 优先级 10 |
  EXPECT_NE(f->fix.find("A | mx | 12.34.56.78"), std::string::npos);
  EXPECT_NE(finding(c, "rdns.not-forward-confirmed"), nullptr);
  EXPECT_EQ(blame_line(c, "iprev"), 37);
}

TEST(GuideCheck, GoodEnglishGuideHasNoErrors) {
  auto g = parse_guide(kGoodGuide, "good.md");
  ASSERT_EQ(g.tables.size(), 1u);
  EXPECT_EQ(g.domain, "example.org");
  auto c = check_guide(g);
  EXPECT_EQ(c.errors(), 0) << ids(c);
  EXPECT_EQ(c.warnings(), 0) << ids(c);
  EXPECT_EQ(c.world.find("example.org", world::RrType::MX).at(0).preference, 20);
}

TEST(GuideCheck, MxHostWithoutARowIsCaughtWithItsLine) {
  std::string md = R"(# Guide

| Type | Host | Value |
|------|------|-------|
| MX   | @    | 10 mx.broken.test |
| TXT  | @    | v=spf1 mx -all |

Set the rDNS of 203.0.113.9 to mx.broken.test.
)";
  auto c = check_guide(parse_guide(md), {"", "203.0.113.9", ""});
  const auto* f = finding(c, "mx.no-a");
  ASSERT_NE(f, nullptr) << ids(c);
  EXPECT_EQ(f->line, 5);
  EXPECT_EQ(f->row, "| MX   | @    | 10 mx.broken.test |");
  EXPECT_EQ(f->reference, "RFC 5321 §5.1");
  EXPECT_NE(f->fix.find("A | mx | 203.0.113.9"), std::string::npos) << f->fix;
  // With no address for mx, SPF `mx` matches nothing: libspf2 says so.
  ASSERT_NE(finding(c, "spf.server-not-covered"), nullptr) << ids(c);
  EXPECT_EQ(finding(c, "spf.server-not-covered")->line, 6);
  // And the rDNS name is not forward-confirmed.
  ASSERT_NE(finding(c, "rdns.not-forward-confirmed"), nullptr);
  EXPECT_EQ(finding(c, "rdns.not-forward-confirmed")->line, 8);
  EXPECT_NE(finding(c, "dkim.missing"), nullptr);
  // A run's iprev failure is blamed on the MX row (its host has no A), not on the rDNS step.
  EXPECT_EQ(blame_line(c, "iprev"), 5);
  EXPECT_EQ(blame_line(c, "spf"), 6);
}

TEST(GuideCheck, SpfWithoutAMechanismForTheServer) {
  std::string md = R"(| Type | Host | Value |
|---|---|---|
| A | mx | 192.0.2.5 |
| MX | @ | mx.spf.test |
| TXT | @ | v=spf1 include:_spf.mailhost.example -all |
| TXT | _dmarc | v=DMARC1; p=none |

Point the rDNS of 192.0.2.5 to mx.spf.test.
)";
  auto c = check_guide(parse_guide(md));
  const auto* f = finding(c, "spf.server-not-covered");
  ASSERT_NE(f, nullptr) << ids(c);
  EXPECT_EQ(f->line, 5);
  EXPECT_NE(f->fix.find("ip4:192.0.2.5 -all"), std::string::npos) << f->fix;
  // The same guide with `mx` in SPF passes: the check is real, not constant.
  std::string fixed = md;
  fixed.replace(fixed.find("include:_spf.mailhost.example"), 29, "mx");
  EXPECT_EQ(finding(check_guide(parse_guide(fixed)), "spf.server-not-covered"), nullptr);
}

TEST(GuideCheck, RdnsMismatchAndMissing) {
  std::string md = R"(| Type | Host | Value |
|---|---|---|
| A | mx | 192.0.2.5 |
| A | www | 192.0.2.5 |
| MX | @ | mx.r.test |
| TXT | @ | v=spf1 mx -all |

Set the rDNS of 192.0.2.5 to www.r.test.
)";
  auto c = check_guide(parse_guide(md));
  const auto* f = finding(c, "rdns.mismatch");
  ASSERT_NE(f, nullptr) << ids(c);
  EXPECT_EQ(f->line, 8);
  EXPECT_NE(f->fix.find("mx.r.test"), std::string::npos);
  EXPECT_EQ(finding(c, "rdns.not-forward-confirmed"), nullptr);  // www has the A record

  std::string no_rdns = md.substr(0, md.find("Set the rDNS"));
  auto c2 = check_guide(parse_guide(no_rdns));
  ASSERT_NE(finding(c2, "rdns.missing"), nullptr) << ids(c2);
  EXPECT_TRUE(c2.world.find("5.2.0.192.in-addr.arpa", world::RrType::PTR).empty());
}

TEST(GuideCheck, LongDkimShownAsOneStringAndRuaMailbox) {
  std::string key(392, 'A');
  std::string md = "| Type | Host | Value |\n|---|---|---|\n| A | mx | 192.0.2.5 |\n"
                   "| MX | @ | mx.k.test |\n| TXT | @ | v=spf1 mx -all |\n"
                   "| TXT | _dmarc | v=DMARC1; p=reject; rua=mailto:reports@k.test, mailto:agg@elsewhere.example |\n"
                   "| TXT | mail._domainkey | v=DKIM1; k=rsa; p=" + key + " |\n\n"
                   "Set the rDNS of 192.0.2.5 to mx.k.test.\n";
  auto c = check_guide(parse_guide(md));
  const auto* f = finding(c, "dkim.long-string");
  ASSERT_NE(f, nullptr) << ids(c);
  EXPECT_EQ(f->line, 7);
  // The world carries it split as a correct panel would: strings of ≤ 255.
  auto dkim = c.world.find("mail._domainkey.k.test", world::RrType::TXT);
  ASSERT_EQ(dkim.size(), 1u);
  EXPECT_EQ(dkim[0].strings.size(), 2u);
  EXPECT_EQ(dkim[0].strings[0].size(), 255u);
  ASSERT_NE(finding(c, "dmarc.rua-mailbox"), nullptr) << ids(c);  // reports@ never created
  EXPECT_EQ(finding(c, "dmarc.rua-mailbox")->line, 6);
  ASSERT_NE(finding(c, "dmarc.rua-external"), nullptr) << ids(c);  // RFC 7489 §7.1
  EXPECT_EQ(finding(c, "dkim.missing"), nullptr);
}

TEST(GuideCheck, SecondDomainTableIncomplete) {
  std::string md = R"(| Type | Host | Value |
|---|---|---|
| A | mx | 192.0.2.5 |
| MX | @ | mx.p.test |
| TXT | @ | v=spf1 mx -all |
| TXT | sel._domainkey | v=DKIM1; p=<key> |

Set the rDNS of 192.0.2.5 to mx.p.test.

## Adding another domain

| Type | Host | Value |
|---|---|---|
| MX | @ | mx.p.test |
| TXT | _dmarc | v=DMARC1; p=none; rua=mailto:postmaster@other.test |
)";
  auto c = check_guide(parse_guide(md));
  EXPECT_EQ(c.names.second_domain, "other.test");
  const auto* f = finding(c, "second.incomplete");
  ASSERT_NE(f, nullptr) << ids(c);
  EXPECT_EQ(f->line, 12);
  EXPECT_NE(f->text.find("TXT @ (SPF)"), std::string::npos) << f->text;
  EXPECT_NE(f->text.find("DKIM"), std::string::npos);
  EXPECT_EQ(f->text.find("MX @"), std::string::npos);
  // and its missing SPF is an error of its own, blamed on that table
  EXPECT_NE(finding(c, "spf.missing"), nullptr);
}

TEST(GuideParse, ColumnRolesAnyOrderAndLanguage) {
  EXPECT_EQ(column_role("记录类型"), "type");
  EXPECT_EQ(column_role("主机名/前缀"), "host");
  EXPECT_EQ(column_role("内容/值"), "value");
  EXPECT_EQ(column_role("备注"), "note");
  EXPECT_EQ(column_role("Priority"), "priority");
  EXPECT_EQ(column_role("Points to"), "value");
  EXPECT_EQ(column_role("Weather"), "");
  std::string md = "| Value | Type | Host |\n|---|---|---|\n| 192.0.2.1 | A | mx |\n| mx.o.test | MX | @ |\n";
  auto g = parse_guide(md);
  ASSERT_EQ(g.tables.size(), 1u);
  EXPECT_EQ(g.tables[0].rows[0].type, "A");
  EXPECT_EQ(g.tables[0].rows[0].host, "mx");
  EXPECT_EQ(g.tables[0].rows[0].line, 3);
  EXPECT_EQ(g.domain, "o.test");
  // A table that is not about DNS is ignored.
  EXPECT_TRUE(parse_guide("| a | b |\n|---|---|\n| 1 | 2 |\n").tables.empty());
  EXPECT_THROW(check_guide(parse_guide("# nothing here\n")), GuideError);
}

TEST(GuideCheck, ScenarioExpectsInboxAndBlamesRows) {
  auto c = check_guide(parse_guide(kGoodGuide, "good.md"));
  auto s = guide_scenario(c, "guide:good");
  EXPECT_EQ(s.name, "guide:good");
  EXPECT_EQ(s.world, c.world);
  ASSERT_TRUE(s.expect.outbound.all.has_value());
  EXPECT_EQ(s.expect.outbound.all->disposition, run::Disposition::inbox);
  EXPECT_EQ(s.probes.outbound.size(), 5u);
  EXPECT_EQ(s.baseline.mx_label, "mail");
  EXPECT_EQ(blame_line(c, "spf"), 11);
  EXPECT_EQ(blame_line(c, "dmarc"), 12);
  EXPECT_EQ(blame_line(c, "dkim"), 13);
  EXPECT_EQ(blame_line(c, "iprev"), 17);
  EXPECT_EQ(blame_line(c, "smtp"), 10);
}

}  // namespace
}  // namespace mailsim::guide
