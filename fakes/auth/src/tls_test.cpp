#include "mailsim/auth/tls.hpp"

#include <gtest/gtest.h>

namespace mailsim::auth {
namespace {

TEST(Tls, Judgement) {
  TlsFacts facts;
  EXPECT_EQ(check_tls(facts).result, Result::fail);
  facts.used = true;
  facts.protocol = "TLSv1.3";
  facts.cipher = "TLS_AES_256_GCM_SHA384";
  auto ok = check_tls(facts);
  EXPECT_EQ(ok.result, Result::pass);
  EXPECT_EQ(ok.trace.at(0).text, "STARTTLS TLSv1.3 TLS_AES_256_GCM_SHA384");
  facts.protocol = "TLSv1.2";
  EXPECT_EQ(check_tls(facts).result, Result::pass);
  facts.protocol = "TLSv1.1";
  auto old = check_tls(facts);
  EXPECT_EQ(old.result, Result::softfail);
  EXPECT_NE(old.cause.find("RFC 8996"), std::string::npos);
  facts.protocol = "TLSv1";
  EXPECT_EQ(check_tls(facts).result, Result::softfail);
  facts.protocol = "";
  EXPECT_EQ(check_tls(facts).result, Result::neutral);
}

}  // namespace
}  // namespace mailsim::auth
