#include "mailsim/smtp/reply.hpp"

#include <gtest/gtest.h>

#include "mailsim/smtp/status_codes.hpp"

namespace mailsim::smtp {
namespace {

TEST(Reply, WireMultiLineAndParseRoundTrip) {
  Reply r = make_reply(550, esc::kMultipleAuthFail,
                       "Unauthenticated email from x.test is not accepted\nsee the docs", "dmarc");
  EXPECT_EQ(r.wire(),
            "550-5.7.26 Unauthenticated email from x.test is not accepted\r\n"
            "550 5.7.26 see the docs\r\n");
  EXPECT_EQ(r.summary(), "550 5.7.26 Unauthenticated email from x.test is not accepted / see the docs");
  Reply p = Reply::parse(r.wire());
  EXPECT_EQ(p.code, 550);
  EXPECT_EQ(p.enhanced, "5.7.26");
  EXPECT_EQ(p.lines, r.lines);
  EXPECT_TRUE(p.permanent());
}

TEST(Reply, ParseWithoutEnhancedAndMalformed) {
  Reply ehlo = Reply::parse("250-mx.test Hello\r\n250-PIPELINING\r\n250 SIZE 100\r\n");
  EXPECT_EQ(ehlo.code, 250);
  EXPECT_EQ(ehlo.enhanced, "");
  EXPECT_EQ(ehlo.lines, (std::vector<std::string>{"mx.test Hello", "PIPELINING", "SIZE 100"}));
  EXPECT_EQ(Reply::parse("354\r\n").code, 354);
  EXPECT_EQ(Reply::parse("hello\r\n").code, 0);
  EXPECT_EQ(Reply::parse("250-a\r\n").code, 0);            // unterminated multi-line
  EXPECT_EQ(Reply::parse("250-a\r\n550 b\r\n").code, 0);   // mixed codes
  EXPECT_EQ(Reply::parse("").code, 0);
  // A 4xx text starting with a 5.x.x code is text, not its enhanced code (class must match).
  EXPECT_EQ(Reply::parse("451 5.7.1 odd\r\n").enhanced, "");
}

TEST(Reply, WireTextIsPrintableOnly) {
  // A lone CR (not a line end) and other controls in the text go out as '?' (RFC 5321 §4.2
  // textstring); HT and UTF-8 bytes (SMTPUTF8, RFC 6531) stay.
  Reply r = make_reply(550, "5.1.1", "user \"a\rb\x7f\" \tunknown \xc3\xa9");
  EXPECT_EQ(r.wire(), "550 5.1.1 user \"a?b?\" \tunknown \xc3\xa9\r\n");
}

TEST(StatusCodes, TableAndShape) {
  EXPECT_EQ(esc::kSecurityPolicy, "5.7.1");
  EXPECT_EQ(esc::describe("5.7.1"), "Delivery not authorized, message refused");
  EXPECT_EQ(esc::describe("4.7.26"), "Multiple authentication checks failed");
  EXPECT_EQ(esc::describe("5.3.4"), "Message too big for system");
  EXPECT_EQ(esc::describe("5.9.9"), "");
  EXPECT_TRUE(esc::well_formed("2.1.5"));
  EXPECT_TRUE(esc::well_formed("5.7.123"));
  EXPECT_FALSE(esc::well_formed("3.1.5"));
  EXPECT_FALSE(esc::well_formed("5.7"));
  EXPECT_FALSE(esc::well_formed("5.7.1234"));
  EXPECT_FALSE(esc::well_formed("5..1"));
}

}  // namespace
}  // namespace mailsim::smtp
