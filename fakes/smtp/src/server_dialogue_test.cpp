#include "mailsim/smtp/server_dialogue.hpp"

#include <regex>

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "mailsim/smtp/status_codes.hpp"

namespace mailsim::smtp {
namespace {

// Records what the dialogue handed to the policy; rejects chosen stages.
class RecordingHandler : public SessionHandler {
 public:
  std::vector<std::string> messages;
  std::vector<std::string> rcpts;
  std::vector<Reply> refused;  // what on_data_refused heard
  std::string closed_reason;
  int tls_calls = 0;
  std::string reject_rcpt;  // this address gets 550 5.1.1
  Reply on_rcpt(const SessionContext& ctx, std::string_view to, const EsmtpParams& p) override {
    if (to == reject_rcpt) return make_reply(550, esc::kBadDestination, "No such user");
    rcpts.emplace_back(to);
    return SessionHandler::on_rcpt(ctx, to, p);
  }
  Reply on_data_end(const SessionContext& ctx, std::string_view message) override {
    messages.emplace_back(message);
    return SessionHandler::on_data_end(ctx, message);
  }
  void on_data_refused(const SessionContext&, const Reply& reply) override {
    refused.push_back(reply);
  }
  void on_tls(const SessionContext&) override { ++tls_calls; }
  void on_close(const SessionContext&, std::string_view reason) override {
    closed_reason = std::string(reason);
  }
};

// The reply codes in a pipelined answer, in order.
std::vector<int> codes(const std::string& wire) {
  std::vector<int> out;
  std::size_t pos = 0;
  while (pos < wire.size()) {
    auto nl = wire.find("\r\n", pos);
    std::string line = wire.substr(pos, nl - pos);
    if (line.size() >= 4 && line[3] == ' ') out.push_back(std::stoi(line.substr(0, 3)));
    pos = nl + 2;
  }
  return out;
}

struct Fixture : ::testing::Test {
  RecordingHandler handler;
  DialogueOptions options;
  std::unique_ptr<ServerDialogue> dialogue;
  void open() {
    dialogue = std::make_unique<ServerDialogue>(handler, options);
    auto out = dialogue->start("12.34.56.78");
    ASSERT_EQ(out.reply.substr(0, 4), "220 ");
  }
  std::string feed(std::string_view s) { return dialogue->feed(s).reply; }
};

TEST_F(Fixture, FullTransactionWithDotStuffing) {
  open();
  std::string ehlo = feed("EHLO client.example\r\n");
  EXPECT_NE(ehlo.find("250-PIPELINING"), std::string::npos);
  EXPECT_NE(ehlo.find("SIZE 10485760"), std::string::npos);
  EXPECT_NE(ehlo.find("250-8BITMIME"), std::string::npos);
  EXPECT_NE(ehlo.find("ENHANCEDSTATUSCODES"), std::string::npos);
  EXPECT_EQ(ehlo.find("STARTTLS"), std::string::npos);  // no TLS context
  EXPECT_EQ(codes(feed("MAIL FROM:<a@x.test>\r\n")), std::vector<int>{250});
  EXPECT_EQ(codes(feed("RCPT TO:<b@y.test>\r\n")), std::vector<int>{250});
  EXPECT_EQ(codes(feed("DATA\r\n")), std::vector<int>{354});
  EXPECT_EQ(dialogue->state(), DialogueState::data);
  // Split across feeds, with a stuffed dot line and a lone-dot-looking stuffed line.
  EXPECT_EQ(feed("Subject: hi\r\n\r\n..leading\r\n"), "");
  EXPECT_EQ(feed("..\r\nlast\r"), "");
  auto end = feed("\n.\r\n");
  EXPECT_EQ(end.substr(0, 10), "250 2.0.0 ");
  ASSERT_EQ(handler.messages.size(), 1u);
  EXPECT_EQ(handler.messages[0], "Subject: hi\r\n\r\n.leading\r\n.\r\nlast\r\n");
  EXPECT_EQ(dialogue->state(), DialogueState::ready);
  EXPECT_EQ(dialogue->context().messages, 1u);
  auto out = dialogue->feed("QUIT\r\n");
  EXPECT_TRUE(out.close);
  EXPECT_EQ(out.reply.substr(0, 4), "221 ");
  EXPECT_EQ(handler.closed_reason, "QUIT");
  const auto& t = dialogue->transcript().str();
  EXPECT_NE(t.find("C: MAIL FROM:<a@x.test>"), std::string::npos);
  EXPECT_NE(t.find("S: 221 2.0.0"), std::string::npos);
}

TEST_F(Fixture, PipelinedBatchRepliesInOrder) {
  open();
  handler.reject_rcpt = "nobody@y.test";
  auto out = feed(
      "EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nRCPT TO:<nobody@y.test>\r\n"
      "RCPT TO:<c@y.test>\r\nDATA\r\nbody\r\n.\r\nNOOP\r\nQUIT\r\n");
  EXPECT_EQ(codes(out), (std::vector<int>{250, 250, 250, 550, 250, 354, 250, 250, 221}));
  EXPECT_EQ(handler.rcpts, (std::vector<std::string>{"b@y.test", "c@y.test"}));
  ASSERT_EQ(handler.messages.size(), 1u);
  EXPECT_EQ(handler.messages[0], "body\r\n");
  EXPECT_TRUE(dialogue->closed());
}

TEST_F(Fixture, BadSequencesAndSyntax) {
  options.max_errors = 100;  // this test makes many errors on purpose
  open();
  EXPECT_EQ(feed("MAIL FROM:<a@x.test>\r\n").substr(0, 10), "503 5.5.1 ");
  EXPECT_EQ(feed("EHLO\r\n").substr(0, 10), "501 5.5.4 ");
  EXPECT_EQ(codes(feed("HELO c\r\n")), std::vector<int>{250});
  EXPECT_EQ(feed("RCPT TO:<b@y.test>\r\n").substr(0, 10), "503 5.5.1 ");
  EXPECT_EQ(feed("DATA\r\n").substr(0, 10), "503 5.5.1 ");
  EXPECT_EQ(feed("MAIL FROM:a@x.test\r\n").substr(0, 10), "501 5.5.4 ");
  // ESMTP parameters after HELO are refused (RFC 5321 §4.1.1.11).
  EXPECT_EQ(feed("MAIL FROM:<a@x.test> SIZE=10\r\n").substr(0, 10), "555 5.5.4 ");
  EXPECT_EQ(feed("MAIL FROM:<>\r\n").substr(0, 4), "250 ");  // null sender
  EXPECT_EQ(feed("MAIL FROM:<a@x.test>\r\n").substr(0, 10), "503 5.5.1 ");  // nested
  EXPECT_EQ(feed("DATA\r\n").substr(0, 10), "554 5.5.1 ");  // no valid recipients
  EXPECT_EQ(feed("RCPT TO:<not an address>\r\n").substr(0, 10), "501 5.1.3 ");
  EXPECT_EQ(feed("RCPT TO:<Postmaster>\r\n").substr(0, 4), "250 ");
  EXPECT_EQ(feed("RSET\r\n").substr(0, 10), "250 2.0.0 ");
  EXPECT_EQ(dialogue->state(), DialogueState::ready);
  EXPECT_EQ(feed("FROB\r\n").substr(0, 10), "500 5.5.2 ");
  EXPECT_EQ(feed("VRFY bob\r\n").substr(0, 10), "252 2.5.0 ");
  EXPECT_EQ(feed("EXPN list\r\n").substr(0, 10), "502 5.5.1 ");
  EXPECT_EQ(feed("HELP\r\n").substr(0, 4), "214 ");
  EXPECT_EQ(feed("NOOP\r\n").substr(0, 10), "250 2.0.0 ");
  EXPECT_EQ(feed("STARTTLS\r\n").substr(0, 10), "502 5.5.1 ");  // not offered
}

TEST_F(Fixture, TooManyErrorsCloses) {
  options.max_errors = 3;
  open();
  feed("X\r\nY\r\n");
  auto out = dialogue->feed("Z\r\nNOOP\r\n");
  EXPECT_TRUE(out.close);
  EXPECT_EQ(codes(out.reply), (std::vector<int>{500, 421}));
  EXPECT_NE(out.reply.find("421 4.7.0"), std::string::npos);
  EXPECT_EQ(handler.closed_reason, "too many errors");
  EXPECT_EQ(feed("NOOP\r\n"), "");  // nothing after close
}

TEST_F(Fixture, SizeLimitsDeclaredAndActual) {
  options.max_message_size = 1000;
  open();
  feed("EHLO c\r\n");
  EXPECT_EQ(feed("MAIL FROM:<a@x.test> SIZE=1001\r\n").substr(0, 10), "552 5.3.4 ");
  EXPECT_EQ(feed("MAIL FROM:<a@x.test> SIZE=999 BODY=8BITMIME\r\n").substr(0, 4), "250 ");
  feed("RCPT TO:<b@y.test>\r\nDATA\r\n");
  std::string line(98, 'x');
  line += "\r\n";
  for (int i = 0; i < 500; ++i) {  // 50 kB against a 1000-byte limit
    EXPECT_EQ(feed(line), "");
    EXPECT_LE(dialogue->buffered_bytes(), 2 * (options.max_message_size + options.max_text_line));
  }
  EXPECT_EQ(feed(".\r\n").substr(0, 10), "552 5.3.4 ");
  EXPECT_TRUE(handler.messages.empty());
  EXPECT_EQ(dialogue->state(), DialogueState::ready);  // session goes on
  EXPECT_EQ(feed("MAIL FROM:<a@x.test>\r\n").substr(0, 4), "250 ");
}

// RFC 5322 §2.1: the header section runs to the first empty line. Past max_header_size no
// header byte is kept, the data is read to its end, and the "." gets 552 5.3.4.
TEST_F(Fixture, HeaderSizeLimit) {
  options.max_header_size = 1000;
  open();
  auto transaction = [&] { feed("MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n"); };
  feed("EHLO c\r\n");
  // 10 header lines of 100 octets = exactly the limit, then a body 50 times as big: accepted.
  std::string header;
  for (int i = 0; i < 10; ++i)
    header += "X-H" + std::to_string(i) + ": " + std::string(92, 'h') + "\r\n";
  ASSERT_EQ(header.size(), 1000u);
  std::string body;
  for (int i = 0; i < 500; ++i) body += std::string(98, 'b') + "\r\n";
  transaction();
  EXPECT_EQ(feed(header + "\r\n" + body + ".\r\n").substr(0, 4), "250 ");
  ASSERT_EQ(handler.messages.size(), 1u);
  EXPECT_EQ(handler.messages[0], header + "\r\n" + body);

  // One octet more: refused, and the header bytes are not kept while the data runs on.
  transaction();
  EXPECT_EQ(feed(header), "");
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(feed("X-More: " + std::string(90, 'm') + "\r\n"), "");
    EXPECT_LE(dialogue->buffered_bytes(), 16u * 1024 + 2 * options.max_text_line);
  }
  EXPECT_EQ(feed("\r\nbody\r\n"), "");
  std::string got = feed(".\r\n");
  EXPECT_EQ(got, "552 5.3.4 Message header size exceeds limit\r\n");
  EXPECT_EQ(handler.messages.size(), 1u);  // not handed over
  ASSERT_EQ(handler.refused.size(), 1u);
  EXPECT_EQ(handler.refused[0].code, 552);
  EXPECT_EQ(handler.refused[0].enhanced, "5.3.4");
  EXPECT_NE(handler.refused[0].cause.find("header section"), std::string::npos);
  EXPECT_EQ(dialogue->state(), DialogueState::ready);  // the session goes on

  // A single over-long header line counts as well (long lines are otherwise accepted).
  transaction();
  EXPECT_EQ(feed("Subject: " + std::string(3000, 's')), "");
  EXPECT_EQ(feed("\r\n\r\nbody\r\n.\r\n").substr(0, 10), "552 5.3.4 ");
  EXPECT_EQ(handler.refused.size(), 2u);

  // No empty line at all: the whole message is header (RFC 5322 §2.1).
  transaction();
  EXPECT_EQ(feed(body + ".\r\n").substr(0, 10), "552 5.3.4 ");
  EXPECT_EQ(handler.refused.size(), 3u);

  // The next message starts counting afresh, and a bare-LF empty line ends the header too.
  transaction();
  EXPECT_EQ(feed("Subject: ok\n\n" + body + ".\r\n").substr(0, 4), "250 ");
  EXPECT_EQ(handler.messages.size(), 2u);
}

TEST_F(Fixture, RecipientCap) {
  options.max_recipients = 100;
  open();
  feed("EHLO c\r\nMAIL FROM:<a@x.test>\r\n");
  std::string batch;
  for (int i = 0; i < 150; ++i) batch += "RCPT TO:<u" + std::to_string(i) + "@y.test>\r\n";
  auto c = codes(feed(batch));
  ASSERT_EQ(c.size(), 150u);
  for (int i = 0; i < 150; ++i) EXPECT_EQ(c[i], i < 100 ? 250 : 452) << i;
  EXPECT_EQ(dialogue->context().rcpt_to.size(), 100u);
  EXPECT_EQ(codes(feed("DATA\r\nx\r\n.\r\n")), (std::vector<int>{354, 250}));
}

TEST_F(Fixture, CommandLineTooLong) {
  open();
  feed("EHLO c\r\n");
  std::string ok = "NOOP " + std::string(1000 - 7, 'a') + "\r\n";  // exactly 1000 with CRLF
  EXPECT_EQ(feed(ok).substr(0, 4), "250 ");
  std::string bad = "NOOP " + std::string(1000 - 6, 'a') + "\r\n";
  EXPECT_EQ(feed(bad).substr(0, 10), "500 5.5.2 ");
  // A huge line without LF is not kept; its LF gets one 500, then the session goes on.
  for (int i = 0; i < 100; ++i) EXPECT_EQ(feed(std::string(10000, 'b')), "");
  EXPECT_LE(dialogue->buffered_bytes(), 2000u);
  EXPECT_EQ(codes(feed("\r\nNOOP\r\n")), (std::vector<int>{500, 250}));
}

TEST_F(Fixture, LongTextLinesAcceptedByDefaultRejectedOnRequest) {
  open();
  feed("EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
  std::string longline = "." + std::string(5000, 'z');
  EXPECT_EQ(feed(longline.substr(0, 2500)), "");
  EXPECT_EQ(feed(longline.substr(2500) + "\r\n.\r\n").substr(0, 4), "250 ");
  ASSERT_EQ(handler.messages.size(), 1u);
  EXPECT_EQ(handler.messages[0], std::string(5000, 'z') + "\r\n");  // dot unstuffed once

  options.reject_long_text_lines = true;
  handler.messages.clear();
  open();
  feed("EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
  EXPECT_EQ(feed(std::string(1200, 'q') + "\r\n.\r\n").substr(0, 10), "500 5.5.2 ");
  EXPECT_TRUE(handler.messages.empty());
}

TEST_F(Fixture, BareLfAcceptedInCommandsButNeverEndsData) {
  open();
  // Bare LF ends command lines (Postfix's "normal" mode).
  EXPECT_EQ(codes(feed("EHLO c\nMAIL FROM:<a@x.test>\nRCPT TO:<b@y.test>\nDATA\n")),
            (std::vector<int>{250, 250, 250, 354}));
  // SMTP smuggling payloads: none of these end the data.
  EXPECT_EQ(feed("Subject: one\r\n\r\nhello\n.\nMAIL FROM:<evil@x.test>\r\n"), "");
  EXPECT_EQ(feed("x\n.\r\nRCPT TO:<v@y.test>\r\n"), "");
  EXPECT_EQ(feed("y\r\n.\nDATA\r\n"), "");
  EXPECT_EQ(dialogue->state(), DialogueState::data);
  EXPECT_EQ(codes(feed("end\r\n.\r\n")), std::vector<int>{250});
  ASSERT_EQ(handler.messages.size(), 1u);
  EXPECT_EQ(handler.messages[0],
            "Subject: one\r\n\r\nhello\r\n.\r\nMAIL FROM:<evil@x.test>\r\nx\r\n.\r\n"
            "RCPT TO:<v@y.test>\r\ny\r\n.\r\nDATA\r\nend\r\n");
  EXPECT_NE(dialogue->transcript().str().find("bare-LF"), std::string::npos);
}

// Found by mailsim_smtp_dialogue_fuzz: a bare CR inside a command argument came back in
// the reply text ("555 5.5.4 RCPT parameter \r… not recognized") and broke the reply's
// framing. Reply text is HT and printable characters only (RFC 5321 §4.2).
TEST_F(Fixture, ControlCharactersFromTheClientNeverReachAReply) {
  open();
  feed("EHLO c\r\nMAIL FROM:<a@x.test>\r\n");
  std::string got = feed("RCPT TO:<b@y.test> X\rY\x1a=1\r\n");
  ASSERT_EQ(codes(got), std::vector<int>{555}) << got;
  EXPECT_EQ(got.find('\r'), got.size() - 2) << got;  // only the reply's own CRLF
  EXPECT_EQ(got.find('\x1a'), std::string::npos) << got;
  EXPECT_NE(got.find("parameter X?Y? not recognized"), std::string::npos) << got;
}

TEST_F(Fixture, StartTlsResetsAndDiscardsPipelinedInput) {
  options.starttls = true;
  open();
  auto ehlo = feed("EHLO c\r\n");
  EXPECT_NE(ehlo.find("250-STARTTLS"), std::string::npos);
  // Injected commands after STARTTLS in the same packet (CVE-2011-0411) are dropped.
  auto out = dialogue->feed("STARTTLS\r\nMAIL FROM:<inject@x.test>\r\n");
  EXPECT_TRUE(out.start_tls);
  EXPECT_EQ(out.reply, "220 2.0.0 Ready to start TLS\r\n");
  TlsInfo info{true, "TLSv1.3", "TLS_AES_256_GCM_SHA384", "", false};
  dialogue->tls_started(info);
  EXPECT_EQ(handler.tls_calls, 1);
  EXPECT_EQ(dialogue->state(), DialogueState::wait_helo);
  EXPECT_TRUE(dialogue->context().helo.empty());
  EXPECT_EQ(dialogue->context().tls.protocol, "TLSv1.3");
  EXPECT_EQ(feed("MAIL FROM:<a@x.test>\r\n").substr(0, 10), "503 5.5.1 ");  // EHLO again first
  auto ehlo2 = feed("EHLO c\r\n");
  EXPECT_EQ(ehlo2.find("STARTTLS"), std::string::npos);  // not offered twice
  EXPECT_EQ(feed("STARTTLS\r\n").substr(0, 10), "503 5.5.1 ");
  EXPECT_NE(dialogue->transcript().str().find("discarded"), std::string::npos);
}

// RFC 3207 §4: with TLS required, only NOOP, EHLO, STARTTLS and QUIT are served before TLS
// (and HELO, as Postfix does; see ServerDialogue::command).
TEST_F(Fixture, RequireTlsRefusesEveryOtherCommandBeforeTls) {
  options.require_tls = true;
  options.starttls = true;
  options.max_errors = 100;
  open();
  const std::string kMust = "530 5.7.0 Must issue a STARTTLS command first\r\n";
  EXPECT_EQ(feed("MAIL FROM:<a@x.test>\r\n"), kMust);  // even before EHLO
  EXPECT_EQ(codes(feed("HELO c\r\n")), std::vector<int>{250});
  EXPECT_EQ(codes(feed("EHLO c\r\n")), std::vector<int>{250});
  EXPECT_EQ(codes(feed("NOOP\r\n")), std::vector<int>{250});
  for (const char* command : {"MAIL FROM:<a@x.test>", "RCPT TO:<b@y.test>", "DATA", "RSET",
                              "VRFY bob", "HELP", "EXPN list", "AUTH PLAIN AGEAYg==",
                              "BDAT 10 LAST", "ETRN x.test", "TURN", "mail from:<a@x.test>"})
    EXPECT_EQ(feed(std::string(command) + "\r\n"), kMust) << command;
  EXPECT_EQ(dialogue->state(), DialogueState::ready);
  EXPECT_TRUE(handler.rcpts.empty());
  EXPECT_EQ(feed("FROB\r\n").substr(0, 10), "500 5.5.2 ");  // not a command: no 530
  auto out = dialogue->feed("STARTTLS\r\n");
  EXPECT_TRUE(out.start_tls);
  dialogue->tls_started({true, "TLSv1.3", "X", "", false});
  feed("EHLO c\r\n");
  EXPECT_EQ(codes(feed("HELP\r\nRSET\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n")),
            (std::vector<int>{214, 250, 250, 250}));

  // A client that never starts TLS is let go after max_errors 530s.
  options.max_errors = 3;
  open();
  auto last = dialogue->feed("EHLO c\r\nMAIL FROM:<a@x.test>\r\nRSET\r\nHELP\r\n");
  EXPECT_EQ(codes(last.reply), (std::vector<int>{250, 530, 530, 530, 421}));
  EXPECT_TRUE(last.close);
}

TEST_F(Fixture, RequireTlsAndSmtpUtf8) {
  options.require_tls = true;
  options.starttls = true;
  open();
  feed("EHLO c\r\n");
  EXPECT_EQ(feed("MAIL FROM:<a@x.test>\r\n").substr(0, 10), "530 5.7.0 ");
  dialogue->tls_started({true, "TLSv1.3", "X", "", false});
  feed("EHLO c\r\n");
  EXPECT_EQ(feed("MAIL FROM:<jöran@x.test>\r\n").substr(0, 10), "553 5.6.7 ");
  EXPECT_EQ(feed("MAIL FROM:<jöran@x.test> SMTPUTF8\r\n").substr(0, 4), "250 ");
  EXPECT_EQ(feed("RCPT TO:<ünï@y.test>\r\n").substr(0, 4), "250 ");
}

// A reply line that carries an RFC 3463 enhanced code after its reply code.
bool has_enhanced_code(const std::string& line) {
  static const std::regex kCode(R"(^\d{3}[ -][245]\.\d{1,3}\.\d{1,3}( |$))");
  return std::regex_search(line, kCode);
}

std::vector<std::string> reply_lines(const std::string& wire) {
  std::vector<std::string> out;
  for (std::size_t pos = 0; pos < wire.size();) {
    auto nl = wire.find("\r\n", pos);
    out.push_back(wire.substr(pos, nl - pos));
    pos = nl == std::string::npos ? wire.size() : nl + 2;
  }
  return out;
}

// RFC 2034: enhanced codes go with the extension. Off, no reply carries one — not ours, not
// the handler's (550 5.1.1 below), not the dialogue's own refusals.
TEST_F(Fixture, EnhancedStatusCodesOffMeansNoCodesAnywhere) {
  options.enhancedstatuscodes = false;
  options.max_message_size = 200;
  handler.reject_rcpt = "nobody@y.test";
  open();
  std::string all = feed("EHLO c\r\n");
  EXPECT_EQ(all.find("ENHANCEDSTATUSCODES"), std::string::npos);
  std::string rest = feed(
      "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nRCPT TO:<nobody@y.test>\r\n"
      "RCPT TO:<x y>\r\nDATA\r\nhi\r\n.\r\nVRFY b\r\nNOOP\r\nRSET\r\nFROB\r\nHELP\r\n"
      "MAIL FROM:<a@x.test> SIZE=999\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n" +
      std::string(300, 'z') + "\r\n.\r\nQUIT\r\n");
  EXPECT_EQ(codes(rest), (std::vector<int>{250, 250, 550, 501, 354, 250, 252, 250, 250, 500, 214,
                                           552, 250, 250, 354, 552, 221}));
  all += rest;
  for (const auto& line : reply_lines(all)) EXPECT_FALSE(has_enhanced_code(line)) << line;
  EXPECT_NE(all.find("550 No such user\r\n"), std::string::npos) << all;
  ASSERT_EQ(handler.refused.size(), 1u);
  EXPECT_EQ(handler.refused[0].enhanced, "");  // the handler hears what was sent

  // On (the default), the same replies carry them — after HELO too (RFC 2034 §4).
  options.enhancedstatuscodes = true;
  open();
  std::string on = feed("HELO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<nobody@y.test>\r\nNOOP\r\n");
  auto lines = reply_lines(on);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_FALSE(has_enhanced_code(lines[0]));  // the HELO reply has none (RFC 2034 §3)
  for (std::size_t i = 1; i < lines.size(); ++i)
    EXPECT_TRUE(has_enhanced_code(lines[i])) << lines[i];
}

// An echoing policy: every reply quotes what the client said.
class EchoingHandler : public SessionHandler {
 public:
  Reply on_helo(const SessionContext&, std::string_view name, bool) override {
    return make_reply(250, "", fmt::format("Hello {}", name));
  }
  Reply on_mail(const SessionContext&, std::string_view from, const EsmtpParams&) override {
    return make_reply(250, esc::kSenderValid,
                      fmt::format("<{}> sender OK\nsecond <{}>", from, from));
  }
  Reply on_rcpt(const SessionContext&, std::string_view to, const EsmtpParams&) override {
    return make_reply(550, esc::kBadDestination, fmt::format("<{}>: no such user here", to));
  }
};

// RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets with its code and CRLF. Client
// text the dialogue echoes is cut to 64 octets and "..."; anything else (a handler quoting
// a 990-octet HELO name) is cut to fit.
TEST(Dialogue, EveryReplyLineFitsFiveHundredTwelveOctets) {
  EchoingHandler handler;
  ServerDialogue d(handler);
  std::string all = d.start("192.0.2.1").reply;
  const std::string huge(900, 'K');
  const std::string utf8 = [] {
    std::string s = "x";                            // so that octet 64 is the middle of an "é"
    for (int i = 0; i < 300; ++i) s += "\xc3\xa9";  // a cut must not split one
    return s;
  }();
  const std::string hostile[] = {
      "EHLO " + std::string(990, 'h'),
      "MAIL FROM:<a@x.test> " + huge + "=1",
      "MAIL FROM:<a@x.test> " + utf8,
      "MAIL FROM:<" + std::string(970, 'f') + "@x.test>",
      "RCPT TO:<b@y.test> " + huge,
      "RCPT TO:<" + std::string(970, 'r') + "@y.test>",
      "VRFY " + huge,
      "NOOP " + huge,
      huge,
  };
  std::string mail_param;
  for (const auto& line : hostile) {
    ASSERT_LE(line.size() + 2, 1000u);  // each a valid command line
    std::string got = d.feed(line + "\r\n").reply;
    EXPECT_FALSE(got.empty()) << line.substr(0, 20);
    if (line.starts_with("MAIL FROM:<a@x.test> K")) mail_param = got;
    all += got;
  }
  all += d.feed("RSET\r\nMAIL FROM:<a@x.test> " + utf8 + "\r\n").reply;
  for (const auto& line : reply_lines(all)) {
    EXPECT_LE(line.size() + 2, 512u) << line.substr(0, 40);
    // UTF-8 cut on a character boundary: no lead byte without its continuation.
    EXPECT_EQ(line.find("\xc3..."), std::string::npos) << line;
  }
  EXPECT_EQ(mail_param,
            "555 5.5.4 MAIL parameter " + std::string(64, 'K') + "... not recognized\r\n");
  EXPECT_NE(all.find("250-mx.mailsim.test Hello hhh"), std::string::npos);
  EXPECT_NE(all.find("...\r\n"), std::string::npos);
}

// The same transaction fed whole, cut at every byte into two reads, and one byte per read:
// the replies and the delivered message must be identical every time (a session's reads
// split the client's bytes anywhere).
TEST(Dialogue, EverySplitGivesTheSameRepliesAndMessage) {
  const std::string long_line = "." + std::string(2500, 'L');  // stuffed, over max_text_line
  const std::string input =
      "EHLO split.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n"
      "RCPT TO:<c@y.test>\r\nDATA\r\n"
      "Subject: split\r\n\r\n..stuffed\r\n...\r\n" +
      long_line + "\r\nbare\n.\nnot the end\r\n.\r\nQUIT\r\n";
  const std::string expected_message = "Subject: split\r\n\r\n.stuffed\r\n..\r\n" +
                                       std::string(2500, 'L') + "\r\nbare\r\n.\r\nnot the end\r\n";
  struct Run {
    std::string replies;
    std::vector<std::string> messages;
    bool closed = false;
  };
  auto run = [&](const std::vector<std::size_t>& cuts) {
    RecordingHandler handler;
    ServerDialogue d(handler);
    Run r;
    r.replies = d.start("192.0.2.1").reply;
    std::size_t pos = 0;
    for (std::size_t cut : cuts) {
      r.replies += d.feed(std::string_view(input).substr(pos, cut - pos)).reply;
      pos = cut;
    }
    r.replies += d.feed(std::string_view(input).substr(pos)).reply;
    r.messages = handler.messages;
    r.closed = d.closed();
    return r;
  };
  const Run whole = run({});
  ASSERT_EQ(codes(whole.replies), (std::vector<int>{220, 250, 250, 250, 250, 354, 250, 221}))
      << whole.replies;
  ASSERT_EQ(whole.messages, std::vector<std::string>{expected_message});
  ASSERT_TRUE(whole.closed);
  for (std::size_t k = 0; k <= input.size(); ++k) {
    const Run split = run({k});
    ASSERT_EQ(split.replies, whole.replies) << "cut at " << k;
    ASSERT_EQ(split.messages, whole.messages) << "cut at " << k;
    ASSERT_TRUE(split.closed) << "cut at " << k;
  }
  std::vector<std::size_t> every_byte;
  for (std::size_t k = 1; k < input.size(); ++k) every_byte.push_back(k);
  const Run bytewise = run(every_byte);
  EXPECT_EQ(bytewise.replies, whole.replies);
  EXPECT_EQ(bytewise.messages, whole.messages);
  EXPECT_TRUE(bytewise.closed);
}

class RefusingHandler : public SessionHandler {
 public:
  int code;
  explicit RefusingHandler(int c) : code(c) {}
  Reply on_connect(const SessionContext&) override {
    return make_reply(code, code == 421 ? esc::kSystemNotAccepting : esc::kSecurityPolicy, "go away");
  }
};

TEST(Dialogue, RefusedGreetingOnlyServesQuit) {
  RefusingHandler h554(554);
  ServerDialogue d(h554);
  auto greet = d.start("1.2.3.4");
  EXPECT_EQ(greet.reply, "554 5.7.1 go away\r\n");
  EXPECT_FALSE(greet.close);
  EXPECT_EQ(d.feed("EHLO c\r\n").reply.substr(0, 10), "503 5.5.1 ");
  EXPECT_TRUE(d.feed("QUIT\r\n").close);

  RefusingHandler h421(421);
  ServerDialogue d2(h421);
  EXPECT_TRUE(d2.start("1.2.3.4").close);
  EXPECT_TRUE(d2.closed());
}

TEST(Dialogue, TimeoutAndShutdownSay421) {
  AcceptAllHandler h;
  ServerDialogue d(h);
  d.start("1.2.3.4");
  auto out = d.timeout();
  EXPECT_TRUE(out.close);
  EXPECT_EQ(out.reply.substr(0, 10), "421 4.4.2 ");
  EXPECT_EQ(d.shutdown().reply, "");  // already closed
}

}  // namespace
}  // namespace mailsim::smtp
