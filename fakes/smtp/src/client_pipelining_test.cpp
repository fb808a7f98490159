// PIPELINING (RFC 2920) in the client, against a scripted loopback server that answers a
// pipelined group only once the client has stopped sending, and so sees how many commands
// the client has outstanding at most. RFC 2920 §3.1: a client must not block on writes
// while the server may not be reading; one write of 10,000 RCPTs relied on big loopback
// buffers.
#include <algorithm>
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include "mailsim/smtp/client.hpp"

namespace mailsim::smtp {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// One connection. Commands are queued as they arrive and answered together once no byte
// came for `quiet` (or at DATA, which ends a group): a client that waited for its replies
// has then shown all it would send without them.
class LazyServer {
 public:
  explicit LazyServer(int mail_code = 250)
      : mail_code_(mail_code),
        acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this] { serve(); });
  }
  ~LazyServer() {
    if (thread_.joinable()) thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void join() { thread_.join(); }
  std::size_t max_outstanding = 0;        // commands sent and not yet answered, at most
  std::size_t max_outstanding_bytes = 0;  // their bytes
  std::size_t groups = 0;                 // times the server answered a batch
  std::size_t commands = 0;

 private:
  void serve() {
    tcp::socket s(ioc_);
    acceptor_.accept(s);
    auto say = [&](const std::string& text) { asio::write(s, asio::buffer(text)); };
    say("220 lazy.test ESMTP\r\n");
    std::string in;
    std::vector<std::string> pending;
    std::size_t pending_bytes = 0;
    bool in_data = false;
    auto last_input = Clock::now();
    const auto give_up = Clock::now() + 60s;
    char buf[65536];
    while (Clock::now() < give_up) {
      boost::system::error_code ec;
      const std::size_t ready = s.available(ec);
      if (ec) return;
      if (ready > 0) {
        const std::size_t n = s.read_some(asio::buffer(buf), ec);
        if (ec) return;
        in.append(buf, n);
        last_input = Clock::now();
        for (std::size_t nl; (nl = in.find("\r\n")) != std::string::npos;) {
          std::string line = in.substr(0, nl);
          in.erase(0, nl + 2);
          if (in_data) {
            if (line != ".") continue;
            in_data = false;
            say("250 2.0.0 queued\r\n");
            continue;
          }
          ++commands;
          pending.push_back(line);
          pending_bytes += line.size() + 2;
          max_outstanding = std::max(max_outstanding, pending.size());
          max_outstanding_bytes = std::max(max_outstanding_bytes, pending_bytes);
          if (line == "DATA" || line.starts_with("EHLO") || line == "QUIT") {
            if (!answer(pending, say, in_data)) return;
            pending_bytes = 0;
          }
        }
        continue;
      }
      if (!pending.empty() && Clock::now() - last_input > 20ms) {
        if (!answer(pending, say, in_data)) return;
        pending_bytes = 0;
        continue;
      }
      std::this_thread::sleep_for(1ms);
    }
  }

  // Answers every pending command in order; false after QUIT.
  template <class Say>
  bool answer(std::vector<std::string>& pending, Say& say, bool& in_data) {
    ++groups;
    std::string replies;
    bool go_on = true;
    for (const auto& line : pending) {
      if (line.starts_with("EHLO")) {
        replies += "250-lazy.test\r\n250 PIPELINING\r\n";
      } else if (line.starts_with("MAIL")) {
        mail_open_ = mail_code_ == 250;
        replies += fmt::format("{} {} sender\r\n", mail_code_, mail_open_ ? "2.1.0" : "5.7.1");
      } else if (line.starts_with("RCPT TO:")) {
        // Each recipient's own reply names it, so the client's matching can be checked.
        replies += mail_open_ ? fmt::format("250 2.1.5 {} ok\r\n", line.substr(8))
                              : std::string("503 5.5.1 Need MAIL command\r\n");
      } else if (line == "DATA") {
        replies += mail_open_ ? "354 go\r\n" : "503 5.5.1 Need MAIL command\r\n";
        in_data = mail_open_;
      } else if (line == "QUIT") {
        replies += "221 bye\r\n";
        go_on = false;
      } else {
        replies += "500 what\r\n";
      }
    }
    pending.clear();
    say(replies);
    return go_on;
  }

  int mail_code_;
  bool mail_open_ = false;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

ClientOptions options_for(std::uint16_t port) {
  ClientOptions o;
  o.port = port;
  o.tls = TlsMode::never;
  o.command_timeout = 10s;
  return o;
}

OutgoingMessage with_recipients(std::size_t n, std::size_t local_part_size) {
  OutgoingMessage m{"a@sender.test", {}, "Subject: t\r\n\r\nhi\r\n", {}};
  for (std::size_t i = 0; i < n; ++i)
    m.rcpt_to.push_back(fmt::format("u{}{}@receiver.test", i, std::string(local_part_size, 'x')));
  return m;
}

TEST(ClientPipelining, TenThousandRecipientsGoInBoundedGroups) {
  LazyServer server;
  ClientOptions o = options_for(server.port());
  const OutgoingMessage m = with_recipients(10000, 0);
  ClientResult r = send_mail(o, m);
  server.join();
  ASSERT_TRUE(r.accepted) << r.error;
  // Never more than one group outstanding (before: all 10,002 commands in one write).
  EXPECT_LE(server.max_outstanding, o.max_pipelined_commands);
  EXPECT_LE(server.max_outstanding_bytes, o.max_pipelined_bytes);
  EXPECT_GE(server.groups, 10002 / o.max_pipelined_commands);
  EXPECT_EQ(server.commands, 10000u + 4);  // EHLO, MAIL, the RCPTs, DATA, QUIT
  // Every reply went to its own command across the group boundaries.
  EXPECT_EQ(r.mail.code, 250);
  ASSERT_EQ(r.rcpts.size(), m.rcpt_to.size());
  for (std::size_t i = 0; i < m.rcpt_to.size(); ++i) {
    ASSERT_EQ(r.rcpts[i].address, m.rcpt_to[i]);
    ASSERT_EQ(r.rcpts[i].reply.lines.at(0), "<" + m.rcpt_to[i] + "> ok") << i;
  }
  EXPECT_EQ(r.data.code, 354);
  EXPECT_EQ(r.data_end.code, 250);
}

TEST(ClientPipelining, LongCommandsAreBoundedByBytes) {
  LazyServer server;
  ClientOptions o = options_for(server.port());
  const OutgoingMessage m = with_recipients(300, 200);  // ~230 bytes per RCPT
  ClientResult r = send_mail(o, m);
  server.join();
  ASSERT_TRUE(r.accepted) << r.error;
  EXPECT_LE(server.max_outstanding_bytes, o.max_pipelined_bytes);
  EXPECT_LT(server.max_outstanding, o.max_pipelined_commands);
  ASSERT_EQ(r.rcpts.size(), 300u);
  for (std::size_t i = 0; i < m.rcpt_to.size(); ++i)
    ASSERT_EQ(r.rcpts[i].reply.lines.at(0), "<" + m.rcpt_to[i] + "> ok") << i;
}

TEST(ClientPipelining, RefusedMailStopsAfterTheFirstGroup) {
  LazyServer server(550);
  ClientOptions o = options_for(server.port());
  const OutgoingMessage m = with_recipients(1000, 0);
  ClientResult r = send_mail(o, m);
  server.join();
  EXPECT_FALSE(r.accepted);
  EXPECT_EQ(r.mail.code, 550);
  EXPECT_EQ(r.stage, ClientStage::mail);
  ASSERT_NE(r.final_reply(), nullptr);
  EXPECT_EQ(r.final_reply()->code, 550);
  // The first group's RCPTs were already sent and got their 503s; no more, and no DATA.
  EXPECT_EQ(r.rcpts.size(), o.max_pipelined_commands - 1);
  EXPECT_EQ(r.data.code, 0);
  EXPECT_EQ(server.commands, o.max_pipelined_commands + 2);  // EHLO, the group, QUIT
}

}  // namespace
}  // namespace mailsim::smtp
