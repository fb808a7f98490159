// SMTP AUTH (RFC 4954) in the client, against a scripted loopback server that records
// every line it receives and answers like a submission server (RFC 6409).
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mailsim/smtp/client.hpp"

namespace mailsim::smtp {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using ::testing::HasSubstr;
using ::testing::Not;

// One connection: greets, offers `auth_line`, accepts the credentials "u@d.test"/"pw" only.
class ScriptedSubmission {
 public:
  explicit ScriptedSubmission(std::string auth_line)
      : auth_line_(std::move(auth_line)), acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedSubmission() { finish(); }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  // Waits for the session to end (the client quit or hung up); every line received.
  std::vector<std::string> finish() {
    if (thread_.joinable()) thread_.join();
    return lines_;
  }

 private:
  void serve() {
    tcp::socket s(ioc_);
    acceptor_.accept(s);
    asio::streambuf buf;
    auto say = [&](const std::string& text) { asio::write(s, asio::buffer(text)); };
    bool closed = false;
    auto read = [&]() {
      boost::system::error_code ec;
      asio::read_until(s, buf, "\r\n", ec);
      if (ec) {
        closed = true;
        return std::string(".");
      }
      std::istream is(&buf);
      std::string line;
      std::getline(is, line);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines_.push_back(line);
      return line;
    };
    say("220 sub.test ESMTP\r\n");
    bool authed = false;
    int login_step = 0;
    std::string login_user;
    for (;;) {
      std::string l = read();
      if (closed) return;
      if (login_step == 1) {
        login_user = l;
        login_step = 2;
        say("334 UGFzc3dvcmQ6\r\n");
        continue;
      }
      if (login_step == 2) {
        login_step = 0;
        // base64("u@d.test") = dUBkLnRlc3Q=, base64("pw") = cHc=
        authed = login_user == "dUBkLnRlc3Q=" && l == "cHc=";
        say(authed ? "235 2.7.0 Authentication successful\r\n" : "535 5.7.8 Bad credentials\r\n");
        continue;
      }
      if (l.starts_with("EHLO")) {
        say("250-sub.test\r\n250-" + auth_line_ + "\r\n250 8BITMIME\r\n");
      } else if (l.starts_with("AUTH PLAIN ")) {
        // base64("\0u@d.test\0pw")
        authed = l == "AUTH PLAIN AHVAZC50ZXN0AHB3";
        say(authed ? "235 2.7.0 Authentication successful\r\n" : "535 5.7.8 Bad credentials\r\n");
      } else if (l == "AUTH LOGIN") {
        login_step = 1;
        say("334 VXNlcm5hbWU6\r\n");
      } else if (l.starts_with("MAIL")) {
        say(authed ? "250 2.1.0 OK\r\n" : "530 5.7.0 Authentication required\r\n");
      } else if (l.starts_with("RCPT")) {
        say("250 2.1.5 OK\r\n");
      } else if (l == "DATA") {
        say("354 go\r\n");
        while (read() != ".") {
        }
        if (closed) return;
        say("250 2.0.0 queued as A1\r\n");
      } else if (l == "QUIT") {
        say("221 bye\r\n");
        return;
      } else {
        say("500 what\r\n");
      }
    }
  }

  std::string auth_line_;
  std::vector<std::string> lines_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

ClientOptions options_for(std::uint16_t port, std::string user, std::string password) {
  ClientOptions o;
  o.port = port;
  o.tls = TlsMode::never;
  o.auth_user = std::move(user);
  o.auth_password = std::move(password);
  o.auth_requires_tls = false;  // the scripted server has no TLS; the rule is tested below
  o.command_timeout = std::chrono::seconds(5);
  return o;
}

OutgoingMessage message() { return {"u@d.test", {"x@gmail.com"}, "Subject: t\r\n\r\nhi\r\n", {}}; }

TEST(ClientAuth, PlainWhenOffered) {
  ScriptedSubmission server("AUTH LOGIN PLAIN");
  auto r = send_mail(options_for(server.port(), "u@d.test", "pw"), message());
  auto lines = server.finish();
  EXPECT_TRUE(r.accepted) << r.error;
  EXPECT_EQ(r.auth.code, 235);
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[1], "AUTH PLAIN AHVAZC50ZXN0AHB3");
  // The transcript names the user but never carries the secret.
  const std::string transcript = r.transcript.str();
  EXPECT_THAT(transcript, HasSubstr("AUTH PLAIN <credentials of u@d.test>"));
  EXPECT_THAT(transcript, Not(HasSubstr("AHVAZC50ZXN0AHB3")));
}

TEST(ClientAuth, LoginWhenPlainIsNotOffered) {
  ScriptedSubmission server("AUTH=LOGIN");
  auto r = send_mail(options_for(server.port(), "u@d.test", "pw"), message());
  EXPECT_TRUE(r.accepted) << r.error;
  EXPECT_EQ(r.auth.code, 235);
  auto lines = server.finish();
  ASSERT_GE(lines.size(), 4u);
  EXPECT_EQ(lines[1], "AUTH LOGIN");
  EXPECT_EQ(lines[2], "dUBkLnRlc3Q=");
  EXPECT_EQ(lines[3], "cHc=");
}

TEST(ClientAuth, WithoutCredentialsNoAuthAndTheServerRefusesMail) {
  ScriptedSubmission server("AUTH PLAIN");
  auto r = send_mail(options_for(server.port(), "", ""), message());
  EXPECT_FALSE(r.accepted);
  EXPECT_EQ(r.auth.code, 0);
  EXPECT_EQ(r.mail.code, 530) << r.transcript.str();
}

TEST(ClientAuth, RefusedCredentialsStopBeforeMail) {
  ScriptedSubmission server("AUTH PLAIN LOGIN");
  auto r = send_mail(options_for(server.port(), "u@d.test", "wrong"), message());
  EXPECT_FALSE(r.accepted);
  EXPECT_EQ(r.auth.code, 535);
  auto lines = server.finish();
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), "QUIT");
  for (const auto& l : lines) EXPECT_THAT(l, Not(HasSubstr("MAIL FROM"))) << "went on after 535";
}

TEST(ClientAuth, NoCredentialsInClear) {
  ScriptedSubmission server("AUTH PLAIN");
  auto o = options_for(server.port(), "u@d.test", "pw");
  o.auth_requires_tls = true;
  auto r = send_mail(o, message());
  EXPECT_FALSE(r.accepted);
  EXPECT_THAT(r.error, HasSubstr("not encrypted"));
  auto lines = server.finish();
  for (const auto& l : lines) EXPECT_THAT(l, Not(HasSubstr("AUTH"))) << "credentials sent in clear";
}

}  // namespace
}  // namespace mailsim::smtp
