#include "mailsim/auth/content.hpp"

#include <gtest/gtest.h>

namespace mailsim::auth {
namespace {

const char* kGood =
    "From: Admin <admin@nodeseek.com>\n"
    "To: someone@gmail.com\n"
    "Subject: Hello\n"
    "Date: Thu, 03 Dec 2026 10:00:00 +0000\n"
    "Message-ID: <abc.123@nodeseek.com>\n"
    "\n"
    "Hello there, this is a test.\n";

TEST(Content, WellFormedPlainMessagePasses) {
  auto res = check_content(Message::parse(kGood));
  EXPECT_EQ(res.result, Result::pass) << res.cause;
  EXPECT_EQ(res.from_count, 1);
  EXPECT_TRUE(res.has_date);
  EXPECT_TRUE(res.has_message_id);
  EXPECT_TRUE(res.valid_message_id);
  EXPECT_TRUE(res.has_to);
  EXPECT_TRUE(res.has_subject);
  EXPECT_TRUE(res.duplicated_headers.empty());
  EXPECT_EQ(res.body_length, std::string("Hello there, this is a test.").size());
  EXPECT_FALSE(res.empty_body);
  EXPECT_FALSE(res.html_only);
}

TEST(Content, MissingDateAndDuplicatesFail) {
  auto res = check_content(Message::parse(
      "From: a@nodeseek.com\nFrom: b@nodeseek.com\nSubject: x\nSubject: y\nTo: c@gmail.com\n\nhi\n"));
  EXPECT_EQ(res.result, Result::fail);
  EXPECT_EQ(res.from_count, 2);
  EXPECT_FALSE(res.has_date);
  EXPECT_EQ(res.duplicated_headers, (std::vector<std::string>{"From", "Subject"}));
  EXPECT_NE(res.cause.find("no Date field"), std::string::npos);

  auto no_from = check_content(Message::parse("Date: Thu, 03 Dec 2026 10:00:00 +0000\n\nhi\n"));
  EXPECT_EQ(no_from.result, Result::fail);
  EXPECT_EQ(no_from.from_count, 0);
}

TEST(Content, MessageIdSyntax) {
  auto with = [](const std::string& id) {
    return check_content(Message::parse("From: a@b.org\nDate: x\nMessage-ID: " + id + "\n\nhi\n"))
        .valid_message_id;
  };
  EXPECT_TRUE(with("<a.b@c.d>"));
  EXPECT_TRUE(with("<x@[127.0.0.1]>"));
  EXPECT_FALSE(with("a@b"));
  EXPECT_FALSE(with("<ab>"));
  EXPECT_FALSE(with("<a@b@c>"));
  EXPECT_FALSE(with("<a b@c>"));
  EXPECT_FALSE(with("<.a@c>"));
  // Missing or invalid Message-ID does not fail the check (a SHOULD, §3.6.4) but is said.
  auto res = check_content(Message::parse("From: a@b.org\nDate: x\n\nhi\n"));
  EXPECT_EQ(res.result, Result::pass);
  EXPECT_FALSE(res.has_message_id);
  EXPECT_NE(res.cause.find("no Message-ID"), std::string::npos);
}

TEST(Content, EmptyBody) {
  auto res = check_content(Message::parse("From: a@b.org\nDate: x\n\n \r\n\t\n"));
  EXPECT_TRUE(res.empty_body);
  EXPECT_EQ(res.body_length, 0u);
}

TEST(Content, HtmlOnlySinglePart) {
  auto res = check_content(Message::parse(
      "From: a@b.org\nDate: x\nContent-Type: text/html; charset=utf-8\n\n"
      "<html><head><style>p{color:red}</style></head><body><p>Hi &amp; bye</p></body></html>\n"));
  EXPECT_TRUE(res.html_only);
  // Visible text is "Hi x bye": tags, style content dropped, entity counted once.
  EXPECT_EQ(res.body_length, 8u);
}

const char* kAlternative =
    "From: a@b.org\nDate: x\nMIME-Version: 1.0\n"
    "Content-Type: multipart/alternative; boundary=\"b1\"\n\n"
    "preamble\n"
    "--b1\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
    "Caf=C3=A9 ol=\nd\n"
    "--b1\nContent-Type: text/html\n\n<p>Caf&eacute; old</p>\n"
    "--b1--\nepilogue\n";

TEST(Content, MultipartAlternativeUsesPlainText) {
  auto res = check_content(Message::parse(kAlternative));
  EXPECT_FALSE(res.html_only);
  EXPECT_EQ(res.body_length, std::string("Café old").size());
}

TEST(Content, MultipartWithoutPlainIsHtmlOnly) {
  auto res = check_content(Message::parse(
      "From: a@b.org\nDate: x\nContent-Type: multipart/mixed; boundary=XYZ\n\n"
      "--XYZ\nContent-Type: text/html\nContent-Transfer-Encoding: base64\n\n"
      "PGI+SGVsbG88L2I+\n"  // <b>Hello</b>
      "--XYZ\nContent-Type: image/png\n\nxxxx\n--XYZ--\n"));
  EXPECT_TRUE(res.html_only);
  EXPECT_EQ(res.body_length, 5u);
}

TEST(Content, ListUnsubscribeAndOneClick) {
  std::string base = "From: a@b.org\nDate: x\n";
  auto none = check_content(Message::parse(base + "\nhi\n"));
  EXPECT_FALSE(none.list_unsubscribe);
  EXPECT_FALSE(none.one_click);

  auto mailto = check_content(Message::parse(
      base + "List-Unsubscribe: <mailto:unsub@b.org>\nList-Unsubscribe-Post: "
             "List-Unsubscribe=One-Click\n\nhi\n"));
  EXPECT_TRUE(mailto.list_unsubscribe);
  EXPECT_FALSE(mailto.one_click);  // RFC 8058 §3.1 needs an HTTPS URI

  auto oneclick = check_content(Message::parse(
      base + "List-Unsubscribe: <mailto:u@b.org>,\n <https://b.org/u?id=1>\n"
             "List-Unsubscribe-Post: List-Unsubscribe=One-Click\n\nhi\n"));
  EXPECT_TRUE(oneclick.list_unsubscribe);
  EXPECT_TRUE(oneclick.one_click);

  auto wrong = check_content(Message::parse(
      base + "List-Unsubscribe: <https://b.org/u>\nList-Unsubscribe-Post: yes\n\nhi\n"));
  EXPECT_FALSE(wrong.one_click);
}

TEST(Content, DeepNestingIsBounded) {
  std::string msg = "From: a@b.org\nDate: x\n";
  for (int i = 0; i < 50; ++i)
    msg += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n--b" +
           std::to_string(i) + "\n";
  msg += "\ntext\n";
  auto res = check_content(Message::parse(msg));  // must terminate, not recurse 50 deep
  EXPECT_EQ(res.from_count, 1);
}

TEST(Content, VisibleTextCountsWhatAReaderSees) {
  // Tag names in any case, style/script content, comments and entities dropped; runs of
  // white space count once; leading and trailing white space not at all.
  auto res = check_content(Message::parse(
      "From: a@b.org\nDate: d\nContent-Type: TEXT/HTML\n\n"
      "  <STYLE>p { x }</Style><P>Hi \t &amp;\r\n <!-- c -->bye</p>"
      "<SCRIPT>var s = '<p>';</sCrIpT>  &unterminatedentity; \n"));
  EXPECT_TRUE(res.html_only);
  EXPECT_EQ(res.body_length, std::string("Hi x bye &unterminatedentity;").size());
}

TEST(Content, PlainTextWhiteSpaceRunsCountOnce) {
  // Every std::isspace character (space, \t, \r, \n, \v, \f) separates; a run is one
  // space; leading and trailing runs are not counted; other octets (UTF-8) all count.
  auto res = check_content(Message::parse(
      "From: a@b.org\nDate: d\n\n \t a  \t\n b\v\fc\xc3\xa9 \n\n \t"));
  EXPECT_EQ(res.body_length, std::string("a b c\xc3\xa9").size());
  auto blank = check_content(Message::parse("From: a@b.org\nDate: d\n\n \n\t \n"));
  EXPECT_EQ(blank.body_length, 0u);
  EXPECT_TRUE(blank.empty_body);
}

TEST(Content, TransferEncodingsDecodedBeforeMeasuring) {
  const char* head =
      "From: a@b.org\nDate: d\nContent-Type: multipart/mixed; boundary=\"b\"\n\n";
  // Quoted-printable: soft line breaks joined, =XX decoded (either case), a bad escape kept.
  auto qp = check_content(Message::parse(
      std::string(head) +
      "--b\nContent-Type: text/plain\nContent-Transfer-Encoding: Quoted-Printable\n\n"
      "ab=\ncd =3d=3D =4g\n--b--\n"));
  EXPECT_EQ(qp.body_length, std::string("abcd == =4g").size());
  // Base64 "  Hello   world \n" decodes to text whose visible part is "Hello world".
  auto b64 = check_content(Message::parse(
      std::string(head) +
      "--b\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
      "ICBIZWxsbyAg\nIHdvcmxkIAo=\n--b--\n"));
  EXPECT_EQ(b64.body_length, std::string("Hello world").size());
}

}  // namespace
}  // namespace mailsim::auth
