#include "mailsim/auth/facts.hpp"

#include <gtest/gtest.h>

namespace mailsim::auth {
namespace {

TEST(MessageParse, ConvertsLfToCrlfAndSplitsBody) {
  auto m = Message::parse("From: a@nodeseek.com\nSubject: hi\n\nline1\nline2\n");
  EXPECT_EQ(m.raw, "From: a@nodeseek.com\r\nSubject: hi\r\n\r\nline1\r\nline2\r\n");
  ASSERT_EQ(m.headers.size(), 2u);
  EXPECT_EQ(m.headers[0].name, "From");
  EXPECT_EQ(m.headers[0].value, "a@nodeseek.com");
  EXPECT_EQ(m.headers[1].raw, "Subject: hi");
  EXPECT_EQ(m.body, "line1\r\nline2\r\n");
}

TEST(MessageParse, KeepsCrlfAsIs) {
  auto m = Message::parse("A: 1\r\n\r\nx\r\n");
  EXPECT_EQ(m.raw, "A: 1\r\n\r\nx\r\n");
  EXPECT_EQ(m.body, "x\r\n");
}

TEST(MessageParse, MixedLineEndsOnlyBareLfConverted) {
  // A bare LF at the start, after CRLF lines and at the end; CRLFs stay single.
  auto m = Message::parse("\nA: 1\r\nB:  2 \t\n\r\nx\r\ny\n");
  EXPECT_EQ(m.raw, "\r\nA: 1\r\nB:  2 \t\r\n\r\nx\r\ny\r\n");
  auto n = Message::parse("A:  one\t\nB: two  \n\nbody\n");
  ASSERT_EQ(n.headers.size(), 2u);
  EXPECT_EQ(n.headers[0].value, "one");  // trimmed both sides, raw keeps the white space
  EXPECT_EQ(n.headers[0].raw, "A:  one\t");
  EXPECT_EQ(n.headers[1].value, "two");
  EXPECT_EQ(n.body, "body\r\n");
}

TEST(MessageParse, FoldingKeptInRawUnfoldedInValue) {
  auto m = Message::parse("Subject: a long\r\n\tsubject line\r\nTo: b@x.org\r\n\r\n");
  ASSERT_EQ(m.headers.size(), 2u);
  EXPECT_EQ(m.headers[0].raw, "Subject: a long\r\n\tsubject line");
  EXPECT_EQ(m.headers[0].value, "a long\tsubject line");
  EXPECT_EQ(m.headers[1].name, "To");
}

TEST(MessageParse, MalformedLineEndsHeaderSection) {
  auto m = Message::parse("From: a@b.org\nthis is not a header\nSubject: x\n");
  ASSERT_EQ(m.headers.size(), 1u);
  EXPECT_EQ(m.body, "this is not a header\r\nSubject: x\r\n");
}

TEST(MessageParse, NoBodyAndEmptyInput) {
  auto m = Message::parse("From: a@b.org");
  ASSERT_EQ(m.headers.size(), 1u);
  EXPECT_EQ(m.body, "");
  auto e = Message::parse("");
  EXPECT_TRUE(e.headers.empty());
  EXPECT_EQ(e.from_domain(), "");
}

TEST(MessageFind, CaseInsensitive) {
  auto m = Message::parse("DKIM-Signature: a\nReceived: 1\nreceived: 2\n\n");
  ASSERT_NE(m.find("dkim-signature"), nullptr);
  EXPECT_EQ(m.find("dkim-signature")->value, "a");
  EXPECT_EQ(m.find("X-None"), nullptr);
  auto all = m.find_all("RECEIVED");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1]->value, "2");
}

std::string from_of(const std::string& value) {
  return Message::parse("From: " + value + "\n\nbody\n").from_domain();
}

TEST(MessageFromDomain, Forms) {
  EXPECT_EQ(from_of("user@NodeSeek.COM"), "nodeseek.com");
  EXPECT_EQ(from_of("Admin <admin@nodeseek.com>"), "nodeseek.com");
  EXPECT_EQ(from_of("\"Evil <x@bad.example>, @\" <admin@nodeseek.com>"), "nodeseek.com");
  EXPECT_EQ(from_of("admin@nodeseek.com (Admin @ other.example)"), "nodeseek.com");
  EXPECT_EQ(from_of("(comment <c@bad.example>) Admin <admin@nodeseek.com>"), "nodeseek.com");
  EXPECT_EQ(from_of("a@one.example, b@two.example"), "one.example");
  EXPECT_EQ(from_of("Team: a@team.example, b@x.example;"), "team.example");
  EXPECT_EQ(from_of("\"odd@local\"@quoted.example"), "quoted.example");
  EXPECT_EQ(from_of("<admin@nodeseek.com.>"), "nodeseek.com");
  EXPECT_EQ(from_of("no address here"), "");
  EXPECT_EQ(from_of("Broken <admin@nodeseek.com"), "");
  EXPECT_EQ(Message::parse("To: a@b.org\n\n").from_domain(), "");
}

TEST(MessageFromDomain, FoldedFrom) {
  auto m = Message::parse("From: \"Long Name\"\n <admin@nodeseek.com>\n\n");
  EXPECT_EQ(m.from_domain(), "nodeseek.com");
}

}  // namespace
}  // namespace mailsim::auth

namespace mailsim::auth {
namespace {

// Found by fakes/auth/fuzz/message_fuzz.cpp: a CR before the name was trimmed away, so the
// header's raw bytes did not start with its name.
TEST(MessageParse, ControlCharactersBeforeNameEndHeaders) {
  auto m = Message::parse(std::string_view("\r\ra@?:x\nB: y\n\nbody\n"));
  EXPECT_TRUE(m.headers.empty());
  auto ws = Message::parse("Subject : obsolete spacing\n\nx\n");
  ASSERT_EQ(ws.headers.size(), 1u);
  EXPECT_EQ(ws.headers[0].name, "Subject");
  EXPECT_EQ(ws.headers[0].value, "obsolete spacing");
}

}  // namespace
}  // namespace mailsim::auth
