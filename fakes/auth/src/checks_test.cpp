#include "mailsim/auth/checks.hpp"

#include <gtest/gtest.h>

#include "checks_test_world.hpp"

namespace mailsim::auth {
namespace {

TEST(AuthenticationResults, NoResults) {
  EXPECT_EQ(authentication_results("mx.google.com", {}, {}, {}),
            "Authentication-Results: mx.google.com; none");
}

TEST(AuthenticationResults, GuideBaselineRendering) {
  auto w = testing::guide_world();
  auto r = testing::resolver_for(w);
  Connection conn{"12.34.56.78", "mx.nodeseek.com", {}};
  Envelope env{"admin@nodeseek.com", {"someone@gmail.com"}, false};
  CheckSet checks;
  SpfResult spf;
  spf.result = Result::pass;
  spf.identity = "mailfrom";
  spf.domain = "nodeseek.com";
  spf.cause = "12.34.56.78 matched a";
  checks.spf = spf;
  DkimResult dkim;
  dkim.result = Result::pass;
  DkimSignatureResult sig;
  sig.result = Result::pass;
  sig.domain = "nodeseek.com";
  sig.selector = "s20231";
  sig.key_bits = 2048;
  sig.signature_b = "AbCdEfGhIjKlMnOp";
  dkim.signatures.push_back(sig);
  checks.dkim = dkim;
  auto msg = Message::parse("From: Admin <admin@nodeseek.com>\nDate: x\n\nhi\n");
  checks.dmarc = check_dmarc(msg, spf, dkim, *r);
  checks.iprev = check_iprev("12.34.56.78", *r);

  std::string ar = authentication_results("mx.google.com", checks, conn, env);
  EXPECT_EQ(ar,
            "Authentication-Results: mx.google.com;\r\n"
            "\tspf=pass (12.34.56.78 matched a) smtp.mailfrom=admin@nodeseek.com;\r\n"
            "\tdkim=pass (2048-bit key) header.d=nodeseek.com header.s=s20231 header.b=AbCdEfGh;\r\n"
            "\tdmarc=pass (p=REJECT) (DKIM d=nodeseek.com aligned with nodeseek.com) "
            "header.from=nodeseek.com;\r\n"
            "\tiprev=pass (PTR 12.34.56.78 → mx.nodeseek.com; A mx.nodeseek.com → 12.34.56.78: "
            "FCrDNS pass) policy.iprev=12.34.56.78 (mx.nodeseek.com)");
}

TEST(AuthenticationResults, NullSenderUsesHeloAndCommentsAreEscaped) {
  Connection conn{"12.34.56.78", "mx.nodeseek.com", {}};
  Envelope env{"", {"x@gmail.com"}, false};
  CheckSet checks;
  SpfResult spf;
  spf.result = Result::fail;
  spf.identity = "helo";
  spf.cause = "no match (see -all) \\ done";
  checks.spf_helo = spf;
  DkimResult dkim;
  dkim.result = Result::none;
  dkim.cause = "no signature";
  checks.dkim = dkim;
  std::string ar = authentication_results("mx.example", checks, conn, env);
  EXPECT_EQ(ar,
            "Authentication-Results: mx.example;\r\n"
            "\tspf=fail (no match \\(see -all\\) \\\\ done) smtp.helo=mx.nodeseek.com;\r\n"
            "\tdkim=none (no signature)");
}

TEST(AuthenticationResults, DmarcFailShowsSubdomainPolicy) {
  auto w = testing::guide_world();
  w.replace(world::make_txt("_dmarc.nodeseek.com", "v=DMARC1; p=reject; sp=none; pct=20"));
  auto r = testing::resolver_for(w);
  CheckSet checks;
  auto msg = Message::parse("From: a@news.nodeseek.com\n\nhi\n");
  checks.dmarc = check_dmarc(msg, SpfResult{}, DkimResult{}, *r);
  std::string ar = authentication_results("mx", checks, {}, {});
  EXPECT_NE(ar.find("dmarc=fail (p=REJECT sp=NONE pct=20)"), std::string::npos) << ar;
  EXPECT_NE(ar.find("header.from=news.nodeseek.com"), std::string::npos) << ar;
}

}  // namespace
}  // namespace mailsim::auth
