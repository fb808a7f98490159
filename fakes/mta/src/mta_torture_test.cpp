// Torture tests on ReceivingMta (issue 4 "Torture"): over-long lines, 10,000 RCPTs, a 50 MB
// DATA past the size limit, slow senders that time out while others are served, 500
// concurrent connections — the last three with peak-RSS bounds — and real, independent
// clients: swaks with and without STARTTLS, and Postfix's smtp-source as a load client. A
// gmail persona with every check on, on 127.0.0.1 ephemeral ports only, the guide's world
// through the in-process resolver; each test is bounded in time.
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "mailsim/auth/dkim.hpp"
#include "mailsim/mta/receiving_mta.hpp"
#include "mailsim/smtp/client.hpp"
#include "mailsim/smtp/test_ca.hpp"
#include "mailsim/world/world.hpp"
#include "smtp_load.hpp"  // bench/smtp: the guide's world, smtp-source runs

// True in the sanitize preset (g++ defines __SANITIZE_ADDRESS__, clang has the feature):
// memory figures are not meaningful there.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUnderAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kUnderAddressSanitizer = true;
#else
constexpr bool kUnderAddressSanitizer = false;
#endif
#else
constexpr bool kUnderAddressSanitizer = false;
#endif

namespace mailsim::mta {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::int64_t kNow = 1741500000;  // the guide's date (fixed clock)

// The guide's records (the bench's world): nodeseek.com, mx 12.34.56.78 with FCrDNS, SPF
// "a mx -all", DMARC p=reject, a DKIM key at s1 — so a signed message from 12.34.56.78 passes
// every check. A 1024-bit key: these tests are about the server, not RSA's cost.
struct TortureWorld : bench::GuideWorld {
  TortureWorld() : GuideWorld(1024, 7) {}
};

std::string signed_message(const auth::DkimKey& key, const std::string& body,
                           const std::string& subject = "torture") {
  std::string text =
      "From: Admin <admin@nodeseek.com>\r\n"
      "To: someone@gmail.com\r\n"
      "Subject: " + subject + "\r\n"
      "Date: Sun, 09 Mar 2025 06:00:00 +0000\r\n"
      "Message-ID: <torture@nodeseek.com>\r\n"
      "\r\n" + body;
  auth::DkimSignOptions options;
  options.now = kNow;
  return auth::sign_dkim(auth::Message::parse(text), key, options) + text;
}

bool all_pass(const Delivery& d) {
  const auto& c = d.checks;
  return c.iprev && c.iprev->is(auth::Result::pass) && c.spf && c.spf->is(auth::Result::pass) &&
         c.dkim && c.dkim->is(auth::Result::pass) && c.dmarc && c.dmarc->is(auth::Result::pass);
}

// /proc/self/status fields in kB ("VmHWM", "VmRSS"); -1 when absent.
long status_kb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with(field + ":")) return std::stol(line.substr(field.size() + 1));
  return -1;
}

// Resets VmHWM to the current RSS (Linux ≥ 4.0, proc(5) clear_refs "5"); false if refused.
bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

// Why this build or machine cannot bound the memory a test uses, or nullopt when it can.
// The tests that measure call GTEST_SKIP with it at their end (after every other check), so
// an unmeasured bound shows as a skip with its reason, never as a silent pass.
std::optional<std::string> rss_unmeasurable() {
  // ASan keeps freed blocks in a quarantine (256 MB by default) and adds shadow memory, so
  // RSS says nothing about what a session holds; the bounds are checked in release builds.
  if (kUnderAddressSanitizer)
    return "peak-RSS bound not checked under AddressSanitizer (quarantine and shadow memory)";
  if (status_kb("VmRSS") <= 0 || status_kb("VmHWM") <= 0)
    return "peak-RSS bound not checked: /proc/self/status has no VmRSS/VmHWM";
  return std::nullopt;
}

// The peak resident memory of this process over a stretch of a test, as growth over its RSS
// at the start. Two measures, the stronger one that works: VmHWM after resetting it through
// /proc/self/clear_refs (exact, kept by the kernel; some sandboxes refuse the write), else
// VmRSS sampled every 2 ms by a thread of its own (always available; it could miss a spike
// shorter than 2 ms, which a buffer held while megabytes arrive or sessions stay open is not).
class PeakRss {
 public:
  PeakRss() : before_kb_(status_kb("VmRSS")), hwm_reset_(reset_peak_rss()) {
    sampled_kb_ = before_kb_;
    sampler_ = std::thread([this] {
      while (!done_.load()) {
        long now = status_kb("VmRSS");
        if (now > sampled_kb_.load()) sampled_kb_.store(now);
        std::this_thread::sleep_for(2ms);
      }
    });
  }
  ~PeakRss() { stop(); }
  PeakRss(const PeakRss&) = delete;
  PeakRss& operator=(const PeakRss&) = delete;

  // Stops measuring (once); the peak's growth in kB over the RSS at construction.
  long growth_kb() {
    stop();
    return peak_kb_ - before_kb_;
  }
  long before_kb() const { return before_kb_; }
  const char* measure() const {
    return hwm_reset_ ? "VmHWM, reset via clear_refs" : "VmRSS sampled every 2 ms";
  }

 private:
  void stop() {
    if (!sampler_.joinable()) return;
    done_.store(true);
    sampler_.join();
    long now = status_kb("VmRSS");
    peak_kb_ = hwm_reset_ ? status_kb("VmHWM") : std::max(sampled_kb_.load(), now);
  }
  const long before_kb_;
  const bool hwm_reset_;
  std::atomic<long> sampled_kb_{0};
  std::atomic<bool> done_{false};
  long peak_kb_ = 0;
  std::thread sampler_;
};

// A blocking client socket with a receive deadline, for protocol-level abuse.
struct Raw {
  asio::io_context ioc;
  tcp::socket sock{ioc};
  explicit Raw(std::uint16_t port, std::chrono::seconds deadline = 20s) {
    sock.connect({asio::ip::make_address("127.0.0.1"), port});
    timeval tv{static_cast<time_t>(deadline.count()), 0};
    ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void send(const std::string& s) { asio::write(sock, asio::buffer(s)); }
  // Reads until `n` final reply lines ("NNN ") arrived, EOF or the deadline.
  std::string replies(int n) {
    std::string all;
    std::array<char, 65536> buf{};
    int finals = 0;
    while (finals < n) {
      boost::system::error_code ec;
      std::size_t k = sock.read_some(asio::buffer(buf), ec);
      if (ec) break;
      all.append(buf.data(), k);
      finals = 0;
      for (std::size_t p = 0; (p = all.find("\r\n", p)) != std::string::npos; p += 2) {
        auto start = p == 0 ? std::string::npos : all.rfind('\n', p - 1);
        start = start == std::string::npos ? 0 : start + 1;
        if (p - start >= 4 && all[start + 3] == ' ') ++finals;
      }
    }
    return all;
  }
  std::string until_eof() {
    std::string all;
    std::array<char, 4096> buf{};
    for (;;) {
      boost::system::error_code ec;
      std::size_t k = sock.read_some(asio::buffer(buf), ec);
      if (ec) return all;
      all.append(buf.data(), k);
    }
  }
};

class MtaTorture : public ::testing::Test {
 protected:
  void SetUp() override {
    resolver_ = dns::make_world_resolver(world_.w);
    dir_ = fs::temp_directory_path() /
           fmt::format("mailsim_mta_torture_{}_{}", ::getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  MtaConfig config(int threads = 2) {
    MtaConfig c;
    c.persona = "gmail";
    c.now = kNow + 60;
    c.threads = threads;
    c.command_timeout = 20s;
    c.client_address = [](const tcp::endpoint&) { return std::string("12.34.56.78"); };
    return c;
  }

  smtp::ClientOptions client(std::uint16_t port) {
    smtp::ClientOptions c;
    c.host = "127.0.0.1";
    c.port = port;
    c.helo_name = "mx.nodeseek.com";
    c.tls = smtp::TlsMode::never;
    c.connect_timeout = 5s;
    c.command_timeout = 20s;
    c.data_timeout = 20s;
    return c;
  }

  smtp::OutgoingMessage message(const std::string& body) {
    smtp::OutgoingMessage m;
    m.mail_from = "admin@nodeseek.com";
    m.rcpt_to = {"someone@gmail.com"};
    m.data = signed_message(world_.key, body);
    return m;
  }

  TortureWorld world_;
  std::unique_ptr<dns::Resolver> resolver_;
  fs::path dir_;
};

TEST_F(MtaTorture, LinesOverAThousandCharacters) {
  ReceivingMta mta(config(), *resolver_);
  mta.start();

  // A 5,000-character command line: 500 5.5.2 (RFC 5321 §4.5.3.1.4), and the session goes on.
  {
    Raw raw(mta.port());
    raw.replies(1);
    raw.send("EHLO mx.nodeseek.com\r\nMAIL FROM:<" + std::string(5000, 'a') +
             "@nodeseek.com>\r\nNOOP\r\nQUIT\r\n");
    std::string got = raw.replies(4);
    EXPECT_NE(got.find("500 5.5.2"), std::string::npos) << got;
    EXPECT_NE(got.find("250 2.0.0"), std::string::npos) << got;  // the NOOP after it
    EXPECT_NE(got.find("221 2.0.0"), std::string::npos) << got;
  }

  // A 5,000-character body line and a 1,500-character header: kept whole (long text lines
  // are accepted, as Postfix and Gmail do), and the DKIM signature over them verifies.
  std::string long_line = std::string(5000, 'L');
  std::string body = "short\r\n" + long_line + "\r\nend\r\n";
  smtp::OutgoingMessage m;
  m.mail_from = "admin@nodeseek.com";
  m.rcpt_to = {"someone@gmail.com"};
  m.data = signed_message(world_.key, body, std::string(1500, 'S'));
  smtp::ClientResult r = smtp::send_mail(client(mta.port()), m);
  ASSERT_TRUE(r.accepted) << r.error << "\n" << r.transcript.str();
  auto ds = mta.wait_for(2, 10s);
  ASSERT_EQ(ds.size(), 2u);
  const Delivery& d = ds[1];
  EXPECT_TRUE(d.accepted()) << delivery_line(d);
  EXPECT_TRUE(all_pass(d)) << d.authentication_results;
  EXPECT_NE(d.message.find("\r\n" + long_line + "\r\n"), std::string::npos);
  EXPECT_NE(d.message.find("Subject: " + std::string(1500, 'S') + "\r\n"), std::string::npos);
}

TEST_F(MtaTorture, TenThousandRecipients) {
  ReceivingMta mta(config(), *resolver_);
  mta.start();
  smtp::OutgoingMessage m = message("ten thousand recipients\r\n");
  m.rcpt_to.clear();
  for (int i = 0; i < 10000; ++i) m.rcpt_to.push_back(fmt::format("user{}@gmail.com", i));
  const auto unmeasurable = rss_unmeasurable();
  PeakRss rss;
  auto t0 = Clock::now();
  smtp::ClientResult r = smtp::send_mail(client(mta.port()), m);  // pipelined (RFC 2920)
  auto took = Clock::now() - t0;
  auto ds = mta.wait_for(1, 10s);
  const long growth_kb = rss.growth_kb();
  ASSERT_TRUE(r.accepted) << r.error;
  ASSERT_EQ(r.rcpts.size(), 10000u);
  // RFC 5321 §4.5.3.1.8: at least 100 must be taken; past the limit, 452 4.5.3 for each.
  for (int i = 0; i < 100; ++i) ASSERT_EQ(r.rcpts[i].reply.code, 250) << i;
  for (int i = 100; i < 10000; ++i) {
    ASSERT_EQ(r.rcpts[i].reply.code, 452) << i;
    ASSERT_EQ(r.rcpts[i].reply.enhanced, "4.5.3") << i;
  }
  EXPECT_LT(took, 20s);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_TRUE(ds[0].accepted()) << delivery_line(ds[0]);
  EXPECT_TRUE(all_pass(ds[0])) << ds[0].authentication_results;
  ASSERT_EQ(ds[0].envelope.rcpt_to.size(), 100u);
  EXPECT_EQ(ds[0].envelope.rcpt_to.front(), "user0@gmail.com");
  EXPECT_EQ(ds[0].envelope.rcpt_to.back(), "user99@gmail.com");
  std::printf(
      "[ figures  ] 10,000 RCPTs pipelined in %lld ms; peak RSS +%ld kB over %ld kB (%s)\n",
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()),
      growth_kb, rss.before_kb(), rss.measure());
  // Memory: the server keeps 100 recipients, but both ends hold the whole pipelined exchange
  // for a while — the client its 10,000 commands (~250 kB), replies and transcript, the
  // server's session its transcript — about 11 MB measured in release
  // (2026-12-04). 32 MB leaves room for allocator slack and another machine, and still fails
  // a server whose memory grows with the square of the commands (a copy of the session per
  // command, say) or that never stopped buffering replies.
  if (unmeasurable) GTEST_SKIP() << *unmeasurable << " (the protocol checks above ran)";
  EXPECT_LT(growth_kb, 32 * 1024) << "peak RSS grew by " << growth_kb << " kB (" << rss.measure()
                                  << ")";
}

TEST_F(MtaTorture, FiftyMegabyteDataIsRefusedWith552AndMemoryStaysBounded) {
  MtaConfig c = config();
  c.max_message_size = 10 * 1024 * 1024;  // RFC 1870 SIZE, the default, stated here
  ReceivingMta mta(c, *resolver_);
  mta.start();
  Raw raw(mta.port());
  raw.replies(1);
  // No SIZE= on MAIL: the server must count the bytes itself (RFC 1870 §6.3).
  raw.send("EHLO mx.nodeseek.com\r\nMAIL FROM:<admin@nodeseek.com>\r\n"
           "RCPT TO:<someone@gmail.com>\r\nDATA\r\n");
  std::string got = raw.replies(4);
  ASSERT_NE(got.find("354"), std::string::npos) << got;

  const auto unmeasurable = rss_unmeasurable();
  std::string chunk;  // 1 MiB of 78-character lines
  while (chunk.size() < (1u << 20)) chunk += std::string(78, 'x') + "\r\n";
  const std::size_t kChunks = 50;
  PeakRss rss;  // after the chunk is built: only what the server holds while it reads
  // A header section first, so the 50 MB are body: the message-size limit is what stops them
  // (not a header-size limit).
  const std::string header = "Subject: fifty megabytes\r\n\r\n";
  raw.send(header);
  for (std::size_t i = 0; i < kChunks; ++i) raw.send(chunk);
  raw.send(".\r\n");
  got = raw.replies(1);
  const long growth_kb = rss.growth_kb();
  EXPECT_NE(got.find("552 5.3.4"), std::string::npos) << got;

  // The session is still usable: a normal signed message goes through after the refusal.
  std::string ok = smtp::dot_stuff(signed_message(world_.key, "after the big one\r\n"));
  raw.send("MAIL FROM:<admin@nodeseek.com>\r\nRCPT TO:<someone@gmail.com>\r\nDATA\r\n");
  got = raw.replies(3);
  ASSERT_NE(got.find("354"), std::string::npos) << got;
  raw.send(ok + ".\r\nQUIT\r\n");
  got = raw.replies(2);
  EXPECT_NE(got.find("250 2.0.0 OK"), std::string::npos) << got;

  // Memory: 50 MB went through, at most the 10 MB limit was ever held (then dropped). The
  // peak RSS of this whole process grows by well under the 50 MB sent: the 10 MB kept, plus
  // the old block while the growing buffer is copied into a larger one — about 17 MB
  // measured in release (2026-12-04). 32 MB leaves room for another allocator and machine and
  // still fails a server that kept what came past the limit (50 MB).
  std::printf("[ figures  ] 50 MB DATA: peak RSS +%ld kB over %ld kB before (%s)\n", growth_kb,
              rss.before_kb(), rss.measure());
  if (!unmeasurable) {
    EXPECT_LT(growth_kb, 32 * 1024)
        << "peak RSS grew by " << growth_kb << " kB (" << rss.measure() << ")";
  }

  auto ds = mta.wait_for(2, 10s);
  ASSERT_EQ(ds.size(), 2u);
  const Delivery& big = ds[0].accepted() ? ds[1] : ds[0];
  const Delivery& after = ds[0].accepted() ? ds[0] : ds[1];
  EXPECT_FALSE(big.accepted());
  EXPECT_EQ(big.ended_at, personas::Stage::data);
  EXPECT_EQ(big.disposition, personas::Disposition::rejected);
  EXPECT_EQ(big.final_reply.code, 552) << delivery_line(big);
  EXPECT_EQ(big.final_reply.enhanced, "5.3.4");
  EXPECT_TRUE(big.message.empty());
  EXPECT_TRUE(after.accepted()) << delivery_line(after);
  // Each attempt keeps the session's replies and its own, not the earlier transaction's.
  ASSERT_FALSE(after.replies.empty());
  EXPECT_EQ(after.replies.front().code, 220);
  for (const auto& reply : after.replies) EXPECT_NE(reply.code, 552) << reply.summary();
  ASSERT_FALSE(big.replies.empty());
  EXPECT_EQ(big.replies.back().code, 552);
  EXPECT_TRUE(all_pass(after)) << after.authentication_results;
  bool counted = false;  // the transcript names the bytes that came, not only those kept
  for (const auto& l : after.transcript)
    counted |= l.text == fmt::format("<message: {} bytes>", header.size() + kChunks * chunk.size());
  EXPECT_TRUE(counted);
  if (unmeasurable) GTEST_SKIP() << *unmeasurable << " (the protocol checks above ran)";
}

TEST_F(MtaTorture, SlowSendersTimeOutWhileOthersAreServed) {
  MtaConfig c = config(/*threads=*/1);  // one thread: a stalled session must not hold it
  c.command_timeout = 600ms;
  ReceivingMta mta(c, *resolver_);
  mta.start();

  // Stalls after the greeting, and another mid-DATA.
  Raw idle(mta.port());
  Raw mid(mta.port());
  idle.replies(1);
  mid.replies(1);
  mid.send("EHLO mx.nodeseek.com\r\nMAIL FROM:<admin@nodeseek.com>\r\n"
           "RCPT TO:<someone@gmail.com>\r\nDATA\r\n");
  ASSERT_NE(mid.replies(4).find("354"), std::string::npos);
  mid.send("Subject: half a message\r\n\r\nand then noth");
  auto stalled_at = Clock::now();

  // Meanwhile a prompt sender is served in full, well inside the stalled ones' timeout.
  auto t0 = Clock::now();
  smtp::ClientResult r = smtp::send_mail(client(mta.port()), message("prompt\r\n"));
  auto prompt = Clock::now() - t0;
  EXPECT_TRUE(r.accepted) << r.error;
  EXPECT_LT(prompt, 600ms) << "the prompt sender waited on the stalled ones";

  // RFC 5321 §4.5.3.2.7 / §3.8: the stalled sessions get 421 4.4.2 and are closed.
  std::string got_idle = idle.until_eof();
  std::string got_mid = mid.until_eof();
  auto waited = Clock::now() - stalled_at;
  EXPECT_NE(got_idle.find("421 4.4.2"), std::string::npos) << got_idle;
  EXPECT_NE(got_mid.find("421 4.4.2"), std::string::npos) << got_mid;
  EXPECT_GE(waited, 500ms);
  EXPECT_LT(waited, 5s);

  auto ds = mta.wait_for(3, 10s);
  ASSERT_EQ(ds.size(), 3u);
  int accepted = 0, timed_out = 0;
  for (const auto& d : ds) {
    if (d.accepted()) {
      ++accepted;
      continue;
    }
    EXPECT_NE(d.note.find("timeout"), std::string::npos) << delivery_line(d);
    EXPECT_EQ(d.disposition, personas::Disposition::deferred) << delivery_line(d);
    ++timed_out;
  }
  EXPECT_EQ(accepted, 1);
  EXPECT_EQ(timed_out, 2);
}

TEST_F(MtaTorture, FiveHundredConcurrentConnectionsWhileServingOthers) {
  // 500 client sockets + 500 server sockets in this one process.
  rlimit lim{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_cur < 2048) {
    lim.rlim_cur = std::min<rlim_t>(4096, lim.rlim_max);
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  if (lim.rlim_cur < 1100) GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << lim.rlim_max;

  ReceivingMta mta(config(), *resolver_);
  mta.start();
  constexpr int kConnections = 500;
  const auto unmeasurable = rss_unmeasurable();
  PeakRss rss;
  auto t0 = Clock::now();
  std::vector<std::unique_ptr<Raw>> conns;
  for (int i = 0; i < kConnections; ++i) conns.push_back(std::make_unique<Raw>(mta.port()));
  int greeted = 0;
  for (auto& c : conns) greeted += c->replies(1).starts_with("220 mx.google.com") ? 1 : 0;
  EXPECT_EQ(greeted, kConnections);
  for (auto& c : conns) c->send("EHLO mx.nodeseek.com\r\n");
  int helloed = 0;
  for (auto& c : conns) helloed += c->replies(1).find("250 ") != std::string::npos ? 1 : 0;
  EXPECT_EQ(helloed, kConnections);

  // All 500 are open: a full signed transaction is still served promptly, checks and all.
  auto t1 = Clock::now();
  smtp::ClientResult r = smtp::send_mail(client(mta.port()), message("while 500 wait\r\n"));
  auto served = Clock::now() - t1;
  EXPECT_TRUE(r.accepted) << r.error;
  EXPECT_EQ(r.data_end.code, 250) << r.transcript.str();
  EXPECT_LT(served, 2s);
  // They are all still open (none was dropped to serve it): each answers a NOOP.
  for (auto& c : conns) c->send("NOOP\r\n");
  int alive = 0;
  for (auto& c : conns) alive += c->replies(1).find("250 ") != std::string::npos ? 1 : 0;
  EXPECT_EQ(alive, kConnections);

  for (auto& c : conns) c->send("QUIT\r\n");
  int closed = 0;
  for (auto& c : conns) closed += c->replies(1).find("221 ") != std::string::npos ? 1 : 0;
  EXPECT_EQ(closed, kConnections);
  auto ds = mta.wait_for(kConnections + 1, 15s);
  const long growth_kb = rss.growth_kb();  // the peak is reached while all 500 are open
  conns.clear();
  auto took = Clock::now() - t0;
  ASSERT_EQ(ds.size(), static_cast<std::size_t>(kConnections + 1));
  int accepted = 0;
  for (const auto& d : ds) accepted += d.accepted() && all_pass(d) ? 1 : 0;
  EXPECT_EQ(accepted, 1);
  EXPECT_LT(took, 20s);
  std::printf(
      "[ figures  ] %d concurrent sessions, one delivery among them in %lld ms, all in "
      "%lld ms; peak RSS +%ld kB over %ld kB (%s)\n",
      kConnections,
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(served).count()),
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()),
      growth_kb, rss.before_kb(), rss.measure());
  // Memory: both ends are in this process — 500 server sessions (socket, read buffer,
  // dialogue, transcript) and 500 client sockets with an io_context each — and 501 kept
  // Deliveries; about 19 MB measured in release (2026-12-04), ~40 kB per connection. 64 MB (~130 kB
  // per connection, both ends) leaves room for allocator slack and another machine, and still fails
  // a server that pre-allocated a message-sized buffer per session (500 × the 10 MB SIZE limit) or
  // leaked sessions.
  if (unmeasurable) GTEST_SKIP() << *unmeasurable << " (the protocol checks above ran)";
  EXPECT_LT(growth_kb, 64 * 1024) << "peak RSS grew by " << growth_kb << " kB (" << rss.measure()
                                  << ")";
}

// Postfix's smtp-source (an independent C client, the bench's load; bench/smtp) with 20
// parallel sessions sends 500 DKIM-signed messages, one connection each: every one is a
// Delivery, accepted, with iprev, SPF, DKIM and DMARC all "pass". Bounded: smtp-source is
// killed past a 60 s cap (and the test fails with its output).
TEST_F(MtaTorture, SmtpSourceLoadEveryMessageAcceptedAndPassing) {
  if (access(bench::kSmtpSource, X_OK) != 0)
    GTEST_SKIP() << bench::kSmtpSource
                 << " not installed: it comes with Debian's postfix package (scripts/bootstrap)";
  constexpr int kMessages = 500;
  ReceivingMta mta(config(), *resolver_);
  mta.start();
  bench::SmtpSourceOptions o;
  o.messages = kMessages;
  o.sessions = 20;
  o.cap = 60s;
  o.message_file = dir_ / "message.eml";
  o.log = dir_ / "smtp-source.log";
  std::ofstream(o.message_file, std::ios::binary)
      << bench::lf_line_ends(signed_message(world_.key, "from smtp-source\r\n"));
  bench::Load load;
  try {
    load = bench::run_smtp_source(o, mta.port(), "the gmail persona");
  } catch (const std::exception& e) {
    FAIL() << e.what();
  }
  auto ds = mta.wait_for(kMessages, 10s);
  ASSERT_EQ(ds.size(), static_cast<std::size_t>(kMessages));
  int passed = 0, reported = 0;
  for (const auto& d : ds) {
    // smtp-source has no STARTTLS: Gmail files the messages as spam (gmail.no_tls), accepted.
    if (d.accepted() && all_pass(d) && d.envelope.mail_from == "admin@nodeseek.com") {
      ++passed;
    } else if (++reported <= 3) {
      ADD_FAILURE() << delivery_line(d) << "\n" << d.authentication_results;
    }
  }
  EXPECT_EQ(passed, kMessages);
  EXPECT_EQ(mta.delivery_count(), static_cast<std::size_t>(kMessages));  // no extra attempts
  std::printf("[ figures  ] smtp-source: %d messages, %d sessions in %.0f ms (%.0f msg/s)\n",
              kMessages, o.sessions, 1e3 * load.seconds, kMessages / load.seconds);
}

// swaks (Debian's swaks, an independent Perl client) against the gmail persona, with and
// without STARTTLS, sending the DKIM-signed message from a file.
class MtaSwaks : public MtaTorture, public ::testing::WithParamInterface<bool> {};

TEST_P(MtaSwaks, SignedMessageIsAccepted) {
  if (access("/usr/bin/swaks", X_OK) != 0) GTEST_SKIP() << "swaks not installed (scripts/bootstrap)";
  const bool tls = GetParam();
  smtp::TestCa ca("mta-torture");
  MtaConfig c = config();
  if (tls) c.tls = ca.server_context("mx.google.com");
  ReceivingMta mta(c, *resolver_);
  mta.start();
  fs::path msg = dir_ / "message.eml";
  std::ofstream(msg, std::ios::binary) << signed_message(world_.key, "hello from swaks\r\n");
  std::string cmd = fmt::format(
      "swaks --server 127.0.0.1 --port {} --from admin@nodeseek.com --to someone@gmail.com "
      "--helo mx.nodeseek.com --timeout 15 {} --data @{} 2>&1",
      mta.port(), tls ? "--tls" : "", msg.string());
  std::string out;
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), pipe)) out += buf.data();
  int status = pclose(pipe);
  if (tls && out.find("Net::SSLeay") != std::string::npos)
    GTEST_SKIP() << "swaks --tls needs Net::SSLeay (libnet-ssleay-perl)";
  EXPECT_EQ(status, 0) << out;
  // swaks marks lines read over TLS "<~", in clear "<-".
  EXPECT_NE(out.find(tls ? "<~  250 2.0.0 OK" : "<-  250 2.0.0 OK"), std::string::npos) << out;
  if (tls) {
    EXPECT_NE(out.find("-> STARTTLS"), std::string::npos) << out;
  }
  auto ds = mta.wait_for(1, 10s);
  ASSERT_EQ(ds.size(), 1u) << out;
  const Delivery& d = ds[0];
  EXPECT_TRUE(d.accepted()) << delivery_line(d);
  EXPECT_TRUE(all_pass(d)) << d.authentication_results;
  EXPECT_EQ(d.tls.used, tls);
  // Gmail files mail that came without TLS as spam (gmail.no_tls); with TLS, the inbox.
  EXPECT_EQ(d.disposition, tls ? personas::Disposition::inbox : personas::Disposition::spam)
      << delivery_line(d);
  EXPECT_NE(d.message.find("hello from swaks"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Tls, MtaSwaks, ::testing::Bool(),
                         [](const auto& p) { return p.param ? "starttls" : "plain"; });

}  // namespace
}  // namespace mailsim::mta
