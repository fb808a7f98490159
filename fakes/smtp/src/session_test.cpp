// Real sockets on 127.0.0.1 ephemeral ports: our client and server, swaks, Python smtplib.
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <unistd.h>
#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "mailsim/smtp/client.hpp"
#include "mailsim/smtp/server.hpp"
#include "mailsim/smtp/status_codes.hpp"
#include "mailsim/smtp/test_ca.hpp"

namespace mailsim::smtp {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// What all sessions of one server saw (handlers are per connection; this is shared).
struct Seen {
  std::mutex mu;
  std::vector<std::string> messages;
  std::vector<std::string> client_ips;
  std::vector<TlsInfo> tls;
  std::vector<std::string> close_reasons;
};

class SharedHandler : public SessionHandler {
 public:
  explicit SharedHandler(Seen& seen) : seen_(seen) {}
  Reply on_connect(const SessionContext& ctx) override {
    std::lock_guard l(seen_.mu);
    seen_.client_ips.push_back(ctx.client_ip);
    return SessionHandler::on_connect(ctx);
  }
  Reply on_data_end(const SessionContext& ctx, std::string_view m) override {
    std::lock_guard l(seen_.mu);
    seen_.messages.emplace_back(m);
    seen_.tls.push_back(ctx.tls);
    return SessionHandler::on_data_end(ctx, m);
  }
  void on_close(const SessionContext&, std::string_view reason) override {
    std::lock_guard l(seen_.mu);
    seen_.close_reasons.emplace_back(reason);
  }

 private:
  Seen& seen_;
};

HandlerFactory factory_for(Seen& seen) {
  return [&seen](const ConnectionInfo&) { return std::make_unique<SharedHandler>(seen); };
}

ServerOptions quick_options() {
  ServerOptions o;
  o.command_timeout = 2s;
  o.tls_handshake_timeout = 2s;
  return o;
}

ClientOptions client_for(std::uint16_t port) {
  ClientOptions c;
  c.port = port;
  c.connect_timeout = 2s;
  c.command_timeout = 3s;
  c.data_timeout = 3s;
  return c;
}

OutgoingMessage sample() {
  return {"alice@sender.test", {"bob@receiver.test"},
          "From: alice@sender.test\nTo: bob@receiver.test\nSubject: t\n\n.dot line\nbody\n", {}};
}

bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds limit = 3s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return pred();
}

TEST(Session, ClientToServerPlain) {
  Seen seen;
  ServerOptions o = quick_options();
  // The loopback fabric's translation: the handler sees the virtual address.
  o.client_address = [](const tcp::endpoint&) { return std::string("12.34.56.78"); };
  ServerThread server(o, factory_for(seen));
  ClientOptions c = client_for(server.port());
  c.tls = TlsMode::never;
  ClientResult r = send_mail(c, sample());
  ASSERT_TRUE(r.accepted) << r.error << "\n" << r.transcript.str();
  EXPECT_EQ(r.stage, ClientStage::done);
  EXPECT_FALSE(r.tls.used);
  EXPECT_EQ(r.rcpts.size(), 1u);
  EXPECT_EQ(r.data.code, 354);
  EXPECT_EQ(r.data_end.code, 250);
  // PIPELINING was used: MAIL, RCPT and DATA went out before any of their replies.
  auto t = r.transcript.lines();
  auto mail = std::find_if(t.begin(), t.end(), [](auto& l) { return l.text.starts_with("MAIL"); });
  ASSERT_NE(mail, t.end());
  EXPECT_EQ((mail + 1)->text, "RCPT TO:<bob@receiver.test>");
  EXPECT_EQ((mail + 2)->text, "DATA");
  ASSERT_TRUE(wait_for([&] { return server.server().sessions_finished() == 1; }));
  std::lock_guard l(seen.mu);
  ASSERT_EQ(seen.messages.size(), 1u);
  EXPECT_EQ(seen.messages[0],
            "From: alice@sender.test\r\nTo: bob@receiver.test\r\nSubject: t\r\n\r\n.dot line\r\nbody\r\n");
  EXPECT_EQ(seen.client_ips, std::vector<std::string>{"12.34.56.78"});
  EXPECT_EQ(seen.close_reasons, std::vector<std::string>{"QUIT"});
}

TEST(Session, StartTlsVerifiedBothSidesSeeTls) {
  Seen seen;
  TestCa ca("session-test");
  ServerOptions o = quick_options();
  o.dialogue.hostname = "mx.receiver.test";
  o.tls = ca.server_context("mx.receiver.test");
  ServerThread server(o, factory_for(seen));

  ClientOptions c = client_for(server.port());
  c.tls = TlsMode::require;
  c.verify = true;
  c.ca_pem = ca.ca_cert_pem();
  c.verify_name = "mx.receiver.test";
  ClientResult r = send_mail(c, sample());
  ASSERT_TRUE(r.accepted) << r.error << "\n" << r.transcript.str();
  EXPECT_TRUE(r.tls.used);
  EXPECT_TRUE(r.tls.verified);
  EXPECT_EQ(r.tls.peer_cert_name, "mx.receiver.test");
  EXPECT_EQ(r.starttls.code, 220);
  // EHLO was repeated over TLS and no longer offers STARTTLS.
  EXPECT_EQ(std::count(r.extensions.begin(), r.extensions.end(), "STARTTLS"), 0);
  {
    std::lock_guard l(seen.mu);
    ASSERT_EQ(seen.tls.size(), 1u);
    EXPECT_TRUE(seen.tls[0].used);
    EXPECT_TRUE(seen.tls[0].protocol == "TLSv1.3" || seen.tls[0].protocol == "TLSv1.2")
        << seen.tls[0].protocol;
    EXPECT_FALSE(seen.tls[0].cipher.empty());
  }

  // The wrong name does not verify: the client stops at the handshake with a clear error.
  c.verify_name = "mx.other.test";
  ClientResult bad = send_mail(c, sample());
  EXPECT_FALSE(bad.accepted);
  EXPECT_EQ(bad.stage, ClientStage::tls_handshake);
  EXPECT_NE(bad.error.find("TLS handshake failed"), std::string::npos) << bad.error;

  // A CA we do not trust does not verify either.
  TestCa other("someone-else");
  c.verify_name = "mx.receiver.test";
  c.ca_pem = other.ca_cert_pem();
  EXPECT_FALSE(send_mail(c, sample()).accepted);
  // Unverified opportunistic TLS still works.
  c.verify = false;
  c.tls = TlsMode::opportunistic;
  ClientResult ok = send_mail(c, sample());
  EXPECT_TRUE(ok.accepted) << ok.error;
  EXPECT_TRUE(ok.tls.used);
  server.stop();
  EXPECT_EQ(server.server().active_sessions(), 0u);
}

TEST(Session, TlsRequiredButNotOfferedStops) {
  Seen seen;
  ServerThread server(quick_options(), factory_for(seen));
  ClientOptions c = client_for(server.port());
  c.tls = TlsMode::require;
  ClientResult r = send_mail(c, sample());
  EXPECT_FALSE(r.accepted);
  EXPECT_EQ(r.stage, ClientStage::starttls);
  EXPECT_NE(r.error.find("not offered"), std::string::npos) << r.error;
  c.tls = TlsMode::opportunistic;
  EXPECT_TRUE(send_mail(c, sample()).accepted);
}

TEST(Session, TestCaIsDeterministicPerSeed) {
  TestCa a("seed-1"), b("seed-1"), c("seed-2");
  EXPECT_EQ(a.ca_cert_pem(), b.ca_cert_pem());
  EXPECT_NE(a.ca_cert_pem(), c.ca_cert_pem());
  EXPECT_EQ(a.issue("mx.gmail.com").cert_pem, b.issue("mx.gmail.com").cert_pem);
  EXPECT_EQ(a.issue("mx.gmail.com").key_pem, b.issue("mx.gmail.com").key_pem);
  EXPECT_NE(a.issue("mx.gmail.com").cert_pem, a.issue("mx.yahoo.com").cert_pem);
  EXPECT_NE(a.issue("127.0.0.1").cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
}

TEST(Session, ClientConnectErrorsAreClear) {
  ClientOptions c = client_for(1);  // nothing listens on port 1
  ClientResult r = send_mail(c, sample());
  EXPECT_EQ(r.stage, ClientStage::connect);
  EXPECT_NE(r.error.find("connect to 127.0.0.1:1"), std::string::npos) << r.error;
  c.host = "192.0.2.1";  // never dialled: not loopback
  r = send_mail(c, sample());
  EXPECT_NE(r.error.find("loopback"), std::string::npos) << r.error;
  ServerOptions o;
  o.address = "0.0.0.0";
  boost::asio::io_context ioc;
  SmtpServer s(ioc, o, nullptr);
  EXPECT_THROW(s.start(), std::system_error);
}

// Records, at delivery, how many server I/O operations had started: the read that brought
// the final "." is the last of them.
class CountingHandler : public SharedHandler {
 public:
  CountingHandler(Seen& seen, std::atomic<int>& ops, std::atomic<int>& delivered_at)
      : SharedHandler(seen), ops_(ops), delivered_at_(delivered_at) {}
  Reply on_data_end(const SessionContext& ctx, std::string_view m) override {
    delivered_at_ = ops_.load();
    return SharedHandler::on_data_end(ctx, m);
  }

 private:
  std::atomic<int>& ops_;
  std::atomic<int>& delivered_at_;
};

// Make the Nth read/write/handshake of the server fail, for every N of a full transaction
// with STARTTLS. Each time the session must end (no leak, no hang); a failure up to the read
// that brought the final "." delivers nothing, one after it delivers exactly one message
// (failing the 250's write included: the server took it, the client never heard — the
// duplicate RFC 5321 §4.1.1.4 warns of); and the same server then serves a clean transaction.
TEST(Session, FailurePointSweep) {
  TestCa ca("sweep");
  std::atomic<int> countdown{-1};
  std::atomic<int> ops{0};
  std::atomic<int> delivered_at{0};
  Seen seen;
  ServerOptions o = quick_options();
  o.tls = ca.server_context("mx.sweep.test");
  o.fault = [&](IoOp) {
    ++ops;
    return --countdown == 0;
  };
  ServerThread server(o, [&](const ConnectionInfo&) {
    return std::make_unique<CountingHandler>(seen, ops, delivered_at);
  });
  ClientOptions c = client_for(server.port());
  c.command_timeout = 2s;
  auto idle = [&] { return wait_for([&] { return server.server().active_sessions() == 0; }); };
  auto delivered = [&] {
    std::lock_guard l(seen.mu);
    return seen.messages.size();
  };
  auto reset = [&] {
    std::lock_guard l(seen.mu);
    seen.messages.clear();
    ops = 0;
  };
  // First a clean run to count the operations and find the one that brought the ".".
  ASSERT_TRUE(send_mail(c, sample()).accepted);
  ASSERT_TRUE(idle());
  const int total = ops.load();
  const int dot_read = delivered_at.load();
  ASSERT_GE(total, 8);
  ASSERT_GT(dot_read, 1);
  ASSERT_LT(dot_read, total);
  std::printf("[ figures  ] %d failure points; the final \".\" came with op %d\n", total, dot_read);
  for (int n = 1; n <= total; ++n) {
    reset();
    countdown = n;
    ClientResult r = send_mail(c, sample());
    ASSERT_TRUE(idle()) << "session still alive after failing op " << n;
    if (!r.accepted) {
      EXPECT_FALSE(r.error.empty()) << "op " << n;
    }
    if (n <= dot_read) {
      EXPECT_EQ(delivered(), 0u) << "failing op " << n << " of " << total << " delivered";
      EXPECT_FALSE(r.accepted) << "op " << n;
    } else {
      EXPECT_EQ(delivered(), 1u) << "failing op " << n << " after the \".\" (op " << dot_read
                                 << ") lost or doubled the message";
    }
    if (n == dot_read + 1) {
      EXPECT_FALSE(r.accepted) << "the 250's write failed, yet the client saw it";
    }
    // The same server still serves: a clean transaction after every failure point.
    reset();
    countdown = -1;
    ClientResult after = send_mail(c, sample());
    EXPECT_TRUE(after.accepted) << "after failing op " << n << ": " << after.error;
    ASSERT_TRUE(idle());
    EXPECT_EQ(delivered(), 1u) << "after failing op " << n;
    EXPECT_EQ(ops.load(), total) << "after failing op " << n;
  }
  EXPECT_TRUE(wait_for([&] {
    return server.server().sessions_accepted() == server.server().sessions_finished();
  })) << server.server().sessions_accepted() << " accepted, " << server.server().sessions_finished()
      << " finished";
}

// Raw socket helper for protocol-level torture.
struct Raw {
  asio::io_context ioc;
  tcp::socket sock{ioc};
  explicit Raw(std::uint16_t port) { sock.connect({asio::ip::make_address("127.0.0.1"), port}); }
  void send(const std::string& s) { asio::write(sock, asio::buffer(s)); }
  // Reads until `n` final reply lines ("NNN ") arrived or EOF.
  std::string replies(int n) {
    std::string all;
    char buf[65536];
    int finals = 0;
    while (finals < n) {
      boost::system::error_code ec;
      std::size_t k = sock.read_some(asio::buffer(buf), ec);
      if (ec) break;
      all.append(buf, k);
      finals = 0;
      for (std::size_t p = 0; (p = all.find("\r\n", p)) != std::string::npos; p += 2) {
        auto start = all.rfind('\n', p - 1);
        start = start == std::string::npos ? 0 : start + 1;
        if (p - start >= 4 && all[start + 3] == ' ') ++finals;
      }
    }
    return all;
  }
  std::string until_eof() {
    std::string all;
    char buf[4096];
    boost::system::error_code ec;
    for (;;) {
      std::size_t k = sock.read_some(asio::buffer(buf), ec);
      if (ec) return all;
      all.append(buf, k);
    }
  }
};

TEST(Torture, TenThousandRecipientsLongLineBigDataSlowSender) {
  Seen seen;
  ServerOptions o = quick_options();
  o.dialogue.max_message_size = 100 * 1024;
  ServerThread server(o, factory_for(seen), 2);

  // 10,000 RCPTs through our pipelining client: 100 accepted, the rest 452 4.5.3.
  ClientOptions c = client_for(server.port());
  c.command_timeout = 3s;
  OutgoingMessage m = sample();
  m.rcpt_to.clear();
  for (int i = 0; i < 10000; ++i) m.rcpt_to.push_back(fmt::format("u{}@receiver.test", i));
  ClientResult r = send_mail(c, m);
  ASSERT_TRUE(r.accepted) << r.error;
  ASSERT_EQ(r.rcpts.size(), 10000u);
  EXPECT_EQ(r.rcpts[99].reply.code, 250);
  EXPECT_EQ(r.rcpts[100].reply.code, 452);
  EXPECT_EQ(r.rcpts[100].reply.enhanced, "4.5.3");
  EXPECT_EQ(r.rcpts[9999].reply.code, 452);

  // A 1,000+-char command line: 500 5.5.2, and the session still works.
  {
    Raw raw(server.port());
    raw.replies(1);
    raw.send("EHLO " + std::string(5000, 'h') + "\r\nNOOP\r\n");
    std::string got = raw.replies(2);
    EXPECT_NE(got.find("500 5.5.2 Line too long"), std::string::npos) << got;
    EXPECT_NE(got.find("250 2.0.0 OK"), std::string::npos) << got;
    raw.send("QUIT\r\n");
  }

  // A 4 MB DATA over a 100 kB limit: 552 5.3.4 after the end of data.
  m = sample();
  m.data = std::string(4 * 1024 * 1024, 'x');
  for (std::size_t i = 76; i < m.data.size(); i += 78) m.data[i] = '\n';
  c.pipelining = false;  // no SIZE=, so the server must count the bytes itself
  ClientResult br = send_mail(c, m);
  EXPECT_FALSE(br.accepted);
  // Our client declares SIZE= when offered, so the MAIL is refused up front …
  EXPECT_EQ(br.mail.code, 552) << br.transcript.str();
  // The refusal at MAIL decides, not an end-of-data reply that was never heard.
  ASSERT_NE(br.final_reply(), nullptr);
  EXPECT_EQ(br.final_reply()->code, 552);
  EXPECT_EQ(br.data_end.code, 0);
  // … and a raw sender that does not declare it gets 552 at end of data.
  {
    Raw raw(server.port());
    raw.replies(1);
    raw.send("EHLO raw\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
    raw.replies(4);
    std::string chunk;
    for (int i = 0; i < 1000; ++i) chunk += std::string(78, 'y') + "\r\n";
    for (int i = 0; i < 50; ++i) raw.send(chunk);  // 4 MB
    raw.send(".\r\n");
    std::string got = raw.replies(1);
    EXPECT_NE(got.find("552 5.3.4"), std::string::npos) << got;
  }

  // A slow sender: nothing after the greeting → 421 4.4.2 and close after the timeout.
  {
    ServerOptions slow = quick_options();
    slow.command_timeout = 300ms;
    ServerThread slow_server(slow, factory_for(seen));
    auto t0 = std::chrono::steady_clock::now();
    Raw raw(slow_server.port());
    std::string got = raw.until_eof();
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_NE(got.find("421 4.4.2"), std::string::npos) << got;
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 3s);
  }
  // Still serving.
  EXPECT_TRUE(send_mail(client_for(server.port()), sample()).accepted);
}

// The server's one session ended (within 5 s) and said why, containing `reason`.
void expect_closed_once(ServerThread& server, Seen& seen, std::string_view reason) {
  ASSERT_TRUE(wait_for([&] { return server.server().active_sessions() == 0; }, 5s));
  std::lock_guard l(seen.mu);
  ASSERT_EQ(seen.close_reasons.size(), 1u);
  EXPECT_NE(seen.close_reasons[0].find(reason), std::string::npos) << seen.close_reasons[0];
}

// One deadline per session, moved forward before every step; its timer is re-armed only
// when it fires early or a step needs a shorter deadline (server.cpp). These pin the three
// ways that could go wrong: a timer that fires at the first deadline regardless, a shorter
// deadline that waits for the longer one armed before it, and a client kept waiting forever.
TEST(Session, DeadlineMovesForwardWithEachCommand) {
  Seen seen;
  ServerOptions o = quick_options();
  o.command_timeout = 400ms;
  ServerThread server(o, factory_for(seen));
  Raw raw(server.port());
  raw.replies(1);
  // Seven commands 150 ms apart: 1.05 s in all, each well inside the 400 ms deadline.
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 7; ++i) {
    std::this_thread::sleep_for(150ms);
    raw.send("NOOP\r\n");
    std::string got = raw.replies(1);
    ASSERT_NE(got.find("250"), std::string::npos) << "NOOP " << i << ": " << got;
  }
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 1s);
  // Then silence: the deadline still holds, 421 4.4.2 (RFC 5321 §4.5.3.2.7).
  auto t1 = std::chrono::steady_clock::now();
  std::string last = raw.until_eof();
  auto idle = std::chrono::steady_clock::now() - t1;
  EXPECT_NE(last.find("421 4.4.2"), std::string::npos) << last;
  EXPECT_GE(idle, 300ms);
  EXPECT_LT(idle, 2s);
}

// A trickler — one byte every 100 ms, never a complete line — used to move the deadline with
// every read and hold its session for ever. The deadline now moves only on progress (a
// complete line; server.cpp), so it gets 421 4.4.2 one command_timeout after its last
// line, while another client is served meanwhile.
TEST(Session, TricklingSenderIsCutOffWhileOthersAreServed) {
  Seen seen;
  ServerOptions o = quick_options();
  o.command_timeout = 500ms;
  ServerThread server(o, factory_for(seen));
  Raw raw(server.port());
  raw.replies(1);
  raw.send("EHLO trickle.test\r\n");
  raw.replies(1);
  const std::string crawl = "MAIL FROM:<" + std::string(200, 't') + "@x.test>\r\n";
  std::atomic<bool> other_ok{false};
  std::thread other([&] {
    std::this_thread::sleep_for(150ms);  // while the trickle runs
    other_ok = send_mail(client_for(server.port()), sample()).accepted;
  });
  const auto t0 = std::chrono::steady_clock::now();
  std::string got;
  for (std::size_t i = 0; i < crawl.size(); ++i) {
    if (std::chrono::steady_clock::now() - t0 > 4s) break;
    boost::system::error_code ec;
    asio::write(raw.sock, asio::buffer(&crawl[i], 1), ec);
    if (ec) break;
    std::this_thread::sleep_for(100ms);
    char buf[4096];
    while (raw.sock.available(ec) > 0 && !ec)
      got.append(buf, raw.sock.read_some(asio::buffer(buf), ec));
    if (got.find("\r\n") != std::string::npos) break;
  }
  const auto took = std::chrono::steady_clock::now() - t0;
  other.join();
  EXPECT_NE(got.find("421 4.4.2"), std::string::npos) << "after " << took.count() << " ns: " << got;
  EXPECT_GE(took, 400ms);
  EXPECT_LT(took, 2s);
  EXPECT_TRUE(other_ok);
  ASSERT_TRUE(wait_for([&] { return server.server().active_sessions() == 0; }));
  std::lock_guard l(seen.mu);
  EXPECT_EQ(seen.messages.size(), 1u);
  EXPECT_NE(std::find(seen.close_reasons.begin(), seen.close_reasons.end(), "timeout"),
            seen.close_reasons.end());
}

// In DATA a read of 512 octets or more is progress, so one huge line sent in large pieces
// slowly (but steadily) is not cut off; only a trickle is.
TEST(Session, AHugeLineSentInLargePiecesIsProgress) {
  Seen seen;
  ServerOptions o = quick_options();
  o.command_timeout = 1s;  // 4x the gap between pieces: a loaded CI machine stays inside it
  ServerThread server(o, factory_for(seen));
  Raw raw(server.port());
  raw.replies(1);
  raw.send("EHLO big.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
  std::string ready = raw.replies(4);
  ASSERT_NE(ready.find("354"), std::string::npos) << ready;
  for (int i = 0; i < 8; ++i) {  // 2 s in all (twice the timeout), 250 ms between pieces
    std::this_thread::sleep_for(250ms);
    raw.send(std::string(4000, 'z'));
  }
  raw.send("\r\n.\r\nQUIT\r\n");
  std::string end = raw.replies(2);
  EXPECT_NE(end.find("250 2.0.0"), std::string::npos) << end;
  std::lock_guard l(seen.mu);
  ASSERT_EQ(seen.messages.size(), 1u);
  EXPECT_EQ(seen.messages[0].size(), 32000u + 2);
}

TEST(Session, ShorterHandshakeDeadlineIsKept) {
  Seen seen;
  ServerOptions o = quick_options();
  o.command_timeout = 30s;  // armed first; the handshake's must not wait for it
  o.tls_handshake_timeout = 300ms;
  TestCa ca("deadline-test");
  o.tls = ca.server_context("mx.receiver.test");
  ServerThread server(o, factory_for(seen));
  Raw raw(server.port());
  raw.replies(1);
  raw.send("EHLO raw\r\n");
  raw.replies(1);
  raw.send("STARTTLS\r\n");
  std::string ready = raw.replies(1);
  ASSERT_NE(ready.find("220"), std::string::npos) << ready;
  // No ClientHello: the server gives up on the handshake and closes.
  auto t0 = std::chrono::steady_clock::now();
  raw.until_eof();
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 5s);
  expect_closed_once(server, seen, "TLS handshake failed");
}

TEST(Session, WriteToAClientThatNeverReadsTimesOut) {
  Seen seen;
  ServerOptions o = quick_options();
  o.command_timeout = 500ms;
  ServerThread server(o, factory_for(seen));
  Raw raw(server.port());
  // Tiny buffers on our side and thousands of pipelined HELPs that we never read: the
  // server's replies fill both socket buffers and its write blocks until the deadline. HELP,
  // not NOOP: its reply is 14 times its command, so the server's send buffer (which the
  // kernel lets grow to megabytes) fills after a few ten thousand commands — with NOOP it
  // took hundreds of thousands, more than 5 s of work under AddressSanitizer on a busy
  // machine, and the test measured that instead of the write deadline.
  raw.sock.set_option(asio::socket_base::receive_buffer_size(4096));
  raw.replies(1);  // the greeting: the session is live
  std::string helps;
  for (int i = 0; i < 2000; ++i) helps += "HELP\r\n";
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 200; ++i) {  // at most 2.4 MB; the server stops reading long before
    boost::system::error_code ec;
    asio::write(raw.sock, asio::buffer(helps), ec);
    if (ec) break;
  }
  expect_closed_once(server, seen, "write failed");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

// With several threads a server listens once per thread on one port (SO_REUSEPORT), which
// another server of the same user could otherwise join and silently take a share of the
// connections from. A second server on a port in use must fail, naming the address.
TEST(Session, SecondServerOnAPortInUseFails) {
  Seen seen;
  ServerThread first(quick_options(), factory_for(seen), 2);
  ServerOptions o = quick_options();
  o.port = first.port();
  for (int threads : {1, 2}) {
    try {
      ServerThread second(o, factory_for(seen), threads);
      ADD_FAILURE() << "a second server (" << threads << " threads) listened on port " << o.port;
    } catch (const std::system_error& e) {
      EXPECT_NE(std::string(e.what()).find("cannot listen on 127.0.0.1:" + std::to_string(o.port)),
                std::string::npos)
          << e.what();
    }
  }
  // And the first still gets every connection.
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(send_mail(client_for(first.port()), sample()).accepted);
  std::lock_guard l(seen.mu);
  EXPECT_EQ(seen.messages.size(), 20u);
}

TEST(Torture, TwoHundredConcurrentConnections) {
  Seen seen;
  ServerOptions o = quick_options();
  ServerThread server(o, factory_for(seen), 2);
  constexpr int kClients = 200;
  std::atomic<int> ok{0};
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i)
    threads.emplace_back([&] {
      ClientOptions c = client_for(server.port());
      c.command_timeout = 5s;
      if (send_mail(c, sample()).accepted) ++ok;
    });
  for (auto& t : threads) t.join();
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  EXPECT_EQ(ok.load(), kClients);
  EXPECT_LT(took, 10s);
  std::printf("[ figures  ] %d concurrent sessions delivered in %lld ms\n", kClients,
              static_cast<long long>(took.count()));
  ASSERT_TRUE(wait_for([&] { return server.server().active_sessions() == 0; }));
  std::lock_guard l(seen.mu);
  EXPECT_EQ(seen.messages.size(), static_cast<std::size_t>(kClients));
}

// Past max_sessions the server says 421 4.3.2 and closes; with enhanced status codes off,
// that reply carries none either (RFC 2034), like every reply of the dialogue.
TEST(Session, OverloadSays421WithOrWithoutEnhancedCode) {
  for (bool enhanced : {true, false}) {
    Seen seen;
    ServerOptions o = quick_options();
    o.max_sessions = 0;
    o.dialogue.enhancedstatuscodes = enhanced;
    ServerThread server(o, factory_for(seen));
    Raw raw(server.port());
    const std::string text = "mx.mailsim.test Too many connections, try again later\r\n";
    EXPECT_EQ(raw.until_eof(), (enhanced ? "421 4.3.2 " : "421 ") + text);
  }
}

TEST(Session, StopSays421ToLiveSessions) {
  Seen seen;
  ServerThread server(quick_options(), factory_for(seen));
  Raw raw(server.port());
  raw.replies(1);
  raw.send("EHLO x\r\n");
  raw.replies(1);
  server.server().stop();
  std::string got = raw.until_eof();
  EXPECT_NE(got.find("421 4.3.2"), std::string::npos) << got;
  EXPECT_TRUE(wait_for([&] { return server.server().active_sessions() == 0; }));
  // The acceptor is closed: a new connection is refused.
  boost::asio::io_context ioc;
  tcp::socket s(ioc);
  boost::system::error_code ec;
  s.connect({asio::ip::make_address("127.0.0.1"), server.port()}, ec);
  EXPECT_TRUE(ec) << "connected after stop()";
}

// ---- real peers: swaks and Python smtplib ----

std::string run_command(const std::string& cmd, int& status) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) {
    status = -1;
    return out;
  }
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  status = pclose(p);
  return out;
}

struct PeerFixture : ::testing::TestWithParam<bool> {};

TEST_P(PeerFixture, Swaks) {
  if (access("/usr/bin/swaks", X_OK) != 0) GTEST_SKIP() << "swaks not installed (apt-get install swaks)";
  const bool tls = GetParam();
  Seen seen;
  TestCa ca("swaks");
  ServerOptions o = quick_options();
  o.tls = ca.server_context("mx.receiver.test");
  ServerThread server(o, factory_for(seen));
  std::string transcript;
  std::mutex tmu;
  server.server().set_observer([&](const SessionContext&, const Transcript& t, std::string_view) {
    std::lock_guard l(tmu);
    transcript = t.str();
  });
  int status = 0;
  std::string out = run_command(
      fmt::format("swaks --server 127.0.0.1 --port {} --from a@sender.test --to b@receiver.test "
                  "--helo swaks.test --timeout 5 {} --body 'hello from swaks'",
                  server.port(), tls ? "--tls" : ""),
      status);
  if (out.find("requires Net::SSLeay") != std::string::npos)
    GTEST_SKIP() << "swaks --tls needs Net::SSLeay (apt-get install libnet-ssleay-perl)";
  ASSERT_EQ(status, 0) << out;
  ASSERT_TRUE(wait_for([&] { return server.server().sessions_finished() == 1; }));
  std::lock_guard l(seen.mu);
  ASSERT_EQ(seen.messages.size(), 1u) << out;
  EXPECT_NE(seen.messages[0].find("hello from swaks"), std::string::npos);
  EXPECT_EQ(seen.tls[0].used, tls);
  std::lock_guard l2(tmu);
  EXPECT_NE(transcript.find("C: EHLO swaks.test"), std::string::npos) << transcript;
  EXPECT_NE(transcript.find("C: RCPT TO:<b@receiver.test>"), std::string::npos) << transcript;
  EXPECT_EQ(transcript.find("TLS established") != std::string::npos, tls) << transcript;
  EXPECT_NE(transcript.find("S: 221 2.0.0"), std::string::npos) << transcript;
}

TEST_P(PeerFixture, PythonSmtplib) {
  const bool tls = GetParam();
  Seen seen;
  TestCa ca("python");
  ServerOptions o = quick_options();
  o.tls = ca.server_context("mx.receiver.test");
  ServerThread server(o, factory_for(seen));
  // Named per process and parameter: ctest runs the plain and starttls cases at once, and a
  // shared name let one case run the other's script against the other's server.
  const std::string stem = fmt::format("{}/mailsim_smtplib_{}_{}", ::testing::TempDir(), getpid(),
                                       tls ? "starttls" : "plain");
  std::string ca_path = stem + "_ca.pem";
  std::ofstream(ca_path) << ca.ca_cert_pem();
  std::string script = fmt::format(R"PY(
import smtplib, ssl
s = smtplib.SMTP("127.0.0.1", {port}, local_hostname="py.test", timeout=5)
s.ehlo()
assert s.has_extn("pipelining") and s.has_extn("size"), s.esmtp_features
if {tls}:
    ctx = ssl.create_default_context(cafile="{ca}")
    ctx.check_hostname = False
    s.starttls(context=ctx)
    s.ehlo()
    assert not s.has_extn("starttls")
refused = s.sendmail("a@sender.test", ["b@receiver.test"], "Subject: py\r\n\r\n.leading dot\r\n")
assert refused == {{}}, refused
code, msg = s.docmd("VRFY", "b")
assert code == 252, (code, msg)
s.quit()
print("OK")
)PY",
                                 fmt::arg("port", server.port()), fmt::arg("tls", tls ? "True" : "False"),
                                 fmt::arg("ca", ca_path));
  std::string script_path = stem + "_client.py";
  std::ofstream(script_path) << script;
  int status = 0;
  std::string out = run_command("/usr/bin/python3 " + script_path, status);
  std::filesystem::remove(script_path);
  std::filesystem::remove(ca_path);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("OK"), std::string::npos);
  ASSERT_TRUE(wait_for([&] { return server.server().sessions_finished() == 1; }));
  std::lock_guard l(seen.mu);
  ASSERT_EQ(seen.messages.size(), 1u);
  EXPECT_EQ(seen.messages[0], "Subject: py\r\n\r\n.leading dot\r\n");  // smtplib stuffed, we unstuffed
  EXPECT_EQ(seen.tls[0].used, tls);
}

INSTANTIATE_TEST_SUITE_P(Tls, PeerFixture, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "starttls" : "plain"; });

}  // namespace
}  // namespace mailsim::smtp
