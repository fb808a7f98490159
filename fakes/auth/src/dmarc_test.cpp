#include "mailsim/auth/dmarc.hpp"

#include <gtest/gtest.h>

#include "checks_test_world.hpp"

namespace mailsim::auth {
namespace {

using testing::guide_world;
using testing::resolver_for;

Message message_from(const std::string& from) {
  return Message::parse("From: " + from + "\nTo: a@gmail.com\nSubject: s\n\nhello\n");
}

SpfResult spf(Result r, const std::string& domain) {
  SpfResult s;
  s.result = r;
  s.identity = "mailfrom";
  s.domain = domain;
  return s;
}

DkimResult dkim_pass(const std::string& d) {
  DkimResult k;
  k.result = Result::pass;
  DkimSignatureResult sig;
  sig.result = Result::pass;
  sig.domain = d;
  sig.selector = "s1";
  k.signatures.push_back(sig);
  return k;
}

TEST(Dmarc, GuideBaselinePassesOnAlignedSpf) {
  auto w = guide_world();
  auto r = resolver_for(w);
  auto res = check_dmarc(message_from("Admin <admin@nodeseek.com>"),
                         spf(Result::pass, "nodeseek.com"), DkimResult{}, *r);
  EXPECT_EQ(res.result, Result::pass) << res.cause;
  EXPECT_EQ(res.from_domain, "nodeseek.com");
  EXPECT_EQ(res.record_domain, "_dmarc.nodeseek.com");
  ASSERT_TRUE(res.record);
  EXPECT_EQ(res.record->p, "reject");
  EXPECT_EQ(res.record->rua, "mailto:postmaster@nodeseek.com");
  EXPECT_EQ(res.record->ruf, "mailto:postmaster@nodeseek.com");
  EXPECT_EQ(res.policy, "reject");
  EXPECT_TRUE(res.spf_aligned);
  EXPECT_FALSE(res.dkim_aligned);
  EXPECT_EQ(res.spf_domain_used, "nodeseek.com");
  ASSERT_FALSE(res.trace.empty());
  EXPECT_EQ(res.trace.front().text.rfind("TXT _dmarc.nodeseek.com → TXT \"v=DMARC1; p=reject", 0),
            0u);
}

TEST(Dmarc, FailsWhenNothingAlignsAndReportsPolicy) {
  auto w = guide_world();
  auto r = resolver_for(w);
  auto res = check_dmarc(message_from("admin@nodeseek.com"), spf(Result::pass, "bounce.other.org"),
                         dkim_pass("other.org"), *r);
  EXPECT_EQ(res.result, Result::fail);
  EXPECT_EQ(res.policy, "reject");
  EXPECT_FALSE(res.spf_aligned);
  EXPECT_FALSE(res.dkim_aligned);
  EXPECT_NE(res.cause.find("neither SPF nor DKIM"), std::string::npos);
}

TEST(Dmarc, SpfFailIsNotUsedEvenIfDomainMatches) {
  auto w = guide_world();
  auto r = resolver_for(w);
  auto res = check_dmarc(message_from("admin@nodeseek.com"), spf(Result::softfail, "nodeseek.com"),
                         DkimResult{}, *r);
  EXPECT_EQ(res.result, Result::fail);
  EXPECT_TRUE(res.spf_domain_used.empty());
}

TEST(Dmarc, RelaxedDkimAlignmentAcceptsSubdomainStrictDoesNot) {
  auto w = guide_world();
  auto r = resolver_for(w);
  auto relaxed = check_dmarc(message_from("admin@nodeseek.com"), spf(Result::fail, "x.org"),
                             dkim_pass("mail.nodeseek.com"), *r);
  EXPECT_EQ(relaxed.result, Result::pass);
  EXPECT_TRUE(relaxed.dkim_aligned);
  EXPECT_EQ(relaxed.dkim_domain_used, "mail.nodeseek.com");

  w.replace(world::make_txt("_dmarc.nodeseek.com", "v=DMARC1; p=quarantine; adkim=s; aspf=s"));
  auto strict = check_dmarc(message_from("admin@nodeseek.com"),
                            spf(Result::pass, "bounce.nodeseek.com"),
                            dkim_pass("mail.nodeseek.com"), *r);
  EXPECT_EQ(strict.result, Result::fail);
  EXPECT_TRUE(strict.record->adkim_strict);
  EXPECT_TRUE(strict.record->aspf_strict);
  EXPECT_EQ(strict.policy, "quarantine");
}

TEST(Dmarc, NoRecordIsNone) {
  auto w = guide_world();
  w.remove("_dmarc.nodeseek.com");
  auto r = resolver_for(w);
  auto res = check_dmarc(message_from("admin@nodeseek.com"), spf(Result::pass, "nodeseek.com"),
                         DkimResult{}, *r);
  EXPECT_EQ(res.result, Result::none);
  EXPECT_FALSE(res.record);
  EXPECT_EQ(res.policy, "");
}

TEST(Dmarc, SubdomainFallsBackToOrganizationalDomainAndUsesSp) {
  auto w = guide_world();
  w.replace(world::make_txt("_dmarc.nodeseek.com", "v=DMARC1; p=reject; sp=quarantine; pct=50"));
  auto r = resolver_for(w);
  auto res = check_dmarc(message_from("news@mail.nodeseek.com"), spf(Result::none, ""),
                         DkimResult{}, *r);
  EXPECT_EQ(res.result, Result::fail);
  EXPECT_EQ(res.from_domain, "mail.nodeseek.com");
  EXPECT_EQ(res.record_domain, "_dmarc.nodeseek.com");
  EXPECT_EQ(res.policy, "quarantine");
  EXPECT_EQ(res.record->pct, 50);
  // Two queries: the From domain first, then the organizational domain (§6.6.3).
  int queries = 0;
  for (const auto& step : res.trace) queries += step.kind == TraceStep::Kind::query;
  EXPECT_EQ(queries, 2);
}

TEST(Dmarc, MultipleRecordsMeanNone) {
  auto w = guide_world();
  w.add(world::make_txt("_dmarc.nodeseek.com", "v=DMARC1; p=none"));
  auto r = resolver_for(w);
  auto res = check_dmarc(message_from("admin@nodeseek.com"), spf(Result::pass, "nodeseek.com"),
                         DkimResult{}, *r);
  EXPECT_EQ(res.result, Result::none);
  EXPECT_NE(res.cause.find("several DMARC records"), std::string::npos);
}

TEST(Dmarc, NonDmarcTxtIsDiscardedAndInvalidRecordIgnored) {
  auto w = guide_world();
  w.replace(world::make_txt("_dmarc.nodeseek.com", "v=spf1 -all"));
  auto r = resolver_for(w);
  auto res = check_dmarc(message_from("admin@nodeseek.com"), spf(Result::pass, "nodeseek.com"),
                         DkimResult{}, *r);
  EXPECT_EQ(res.result, Result::none);

  w.replace(world::make_txt("_dmarc.nodeseek.com", "v=DMARC1; p=block"));
  res = check_dmarc(message_from("admin@nodeseek.com"), spf(Result::pass, "nodeseek.com"),
                    DkimResult{}, *r);
  EXPECT_EQ(res.result, Result::none);
  bool noted = false;
  for (const auto& step : res.trace) noted |= step.text.find("p= is not none") != std::string::npos;
  EXPECT_TRUE(noted);

  // Invalid p= but a valid rua: treated as p=none (§6.6.3).
  w.replace(world::make_txt("_dmarc.nodeseek.com", "v=DMARC1; p=block; rua=mailto:a@nodeseek.com"));
  res = check_dmarc(message_from("admin@nodeseek.com"), spf(Result::pass, "nodeseek.com"),
                    DkimResult{}, *r);
  EXPECT_EQ(res.result, Result::pass);
  EXPECT_EQ(res.policy, "none");
}

TEST(Dmarc, DnsErrorIsTemperror) {
  auto w = guide_world();
  w.add_fault({"_dmarc.nodeseek.com", world::RrType::TXT, world::DnsFaultKind::servfail});
  auto r = resolver_for(w);
  auto res = check_dmarc(message_from("admin@nodeseek.com"), spf(Result::pass, "nodeseek.com"),
                         DkimResult{}, *r);
  EXPECT_EQ(res.result, Result::temperror);
  EXPECT_NE(res.cause.find("SERVFAIL"), std::string::npos);
}

TEST(Dmarc, FromProblemsArePermerror) {
  auto w = guide_world();
  auto r = resolver_for(w);
  auto two = Message::parse("From: a@nodeseek.com\nFrom: b@evil.example\n\nx\n");
  EXPECT_EQ(check_dmarc(two, spf(Result::pass, "nodeseek.com"), {}, *r).result,
            Result::permerror);
  auto none = Message::parse("To: a@nodeseek.com\n\nx\n");
  EXPECT_EQ(check_dmarc(none, spf(Result::pass, "nodeseek.com"), {}, *r).result,
            Result::permerror);
}

}  // namespace
}  // namespace mailsim::auth
