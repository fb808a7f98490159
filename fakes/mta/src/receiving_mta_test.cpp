// ReceivingMta over real sockets on 127.0.0.1: a World built here (guide-like records), the
// in-process world resolver, and Python's smtplib (/usr/bin/python3) as an independent client.
#include "mailsim/mta/receiving_mta.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <system_error>

#include "mailsim/auth/dkim.hpp"
#include "mailsim/smtp/client.hpp"
#include "mailsim/smtp/test_ca.hpp"
#include "mailsim/world/world.hpp"

namespace mailsim::mta {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::int64_t kNow = 1741500000;  // 2025-03-09, the guide's date (fixed clock)

// The guide's records (§2, §3, §6): nodeseek.com with mx 12.34.56.78, SPF "a mx -all",
// DMARC p=reject, PTR 12.34.56.78 → mx.nodeseek.com, and a DKIM key at s1._domainkey.
struct GuideWorld {
  world::World w;
  auth::DkimKey key;
  GuideWorld() {
    w.add_zone("nodeseek.com");
    w.add_zone("56.34.12.in-addr.arpa");
    w.add_zone("zen.spamhaus.org");
    w.add(world::make_a("mx.nodeseek.com", "12.34.56.78"));
    w.add(world::make_a("nodeseek.com", "12.34.56.78"));
    w.add(world::make_mx("nodeseek.com", 10, "mx.nodeseek.com"));
    w.add(world::make_txt("nodeseek.com", "v=spf1 a mx -all"));
    w.add(world::make_txt("mx.nodeseek.com", "v=spf1 a -all"));
    w.add(world::make_txt("_dmarc.nodeseek.com",
                          "v=DMARC1; p=reject; rua=mailto:postmaster@nodeseek.com"));
    w.add(world::make_ptr("78.56.34.12.in-addr.arpa", "mx.nodeseek.com"));
    // 12.34.56.77 is on Spamhaus SBL (RFC 5782 §2.1: reversed address under the zone).
    w.add(world::make_a("77.56.34.12.zen.spamhaus.org", "127.0.0.2"));
    // 12.34.56.76 is on a block list that is not Spamhaus (for Outlook's S3150).
    w.add_zone("bl.spamcop.net");
    w.add(world::make_a("76.56.34.12.bl.spamcop.net", "127.0.0.2"));
    // 12.34.56.79 forward-confirms (relay.nodeseek.com) but is not in nodeseek.com's SPF.
    w.add(world::make_a("relay.nodeseek.com", "12.34.56.79"));
    w.add(world::make_ptr("79.56.34.12.in-addr.arpa", "relay.nodeseek.com"));
    key = auth::generate_dkim_key("nodeseek.com", "s1", 42, 1024);
    w.add(world::make_txt("s1._domainkey.nodeseek.com", key.public_txt));
  }
};

std::string guide_message(const auth::DkimKey* key) {
  std::string text =
      "From: Admin <admin@nodeseek.com>\r\n"
      "To: someone@gmail.com\r\n"
      "Subject: hello from the guide\r\n"
      "Date: Sun, 09 Mar 2025 06:00:00 +0000\r\n"
      "Message-ID: <guide-1@nodeseek.com>\r\n"
      "\r\n"
      "A plain test message.\r\n";
  if (!key) return text;
  auth::DkimSignOptions options;
  options.now = kNow;
  return auth::sign_dkim(auth::Message::parse(text), *key, options) + text;
}

struct ClientOutcome {
  std::string output;  // "accepted" or "<code> <text>" of the refusal, or an error
  int status = -1;
};

// Sends one message with smtplib; STARTTLS (verifying against `ca_file`) unless ca_file is "".
ClientOutcome send_with_python(std::uint16_t port, const fs::path& dir, const std::string& ca_file,
                               const std::string& message) {
  fs::path script = dir / "send.py";
  fs::path msg = dir / "message.eml";
  std::ofstream(msg, std::ios::binary) << message;
  std::ofstream(script) << R"(import smtplib, ssl, sys
port, ca, msgfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = None
try:
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="mx.nodeseek.com", timeout=20)
    s.ehlo()
    if ca:
        ctx = ssl.create_default_context(cafile=ca)
        ctx.check_hostname = False  # the certificate names mx.google.com, we dial 127.0.0.1
        s.starttls(context=ctx)
        s.ehlo()
    s.sendmail("admin@nodeseek.com", ["someone@gmail.com"], open(msgfile, "rb").read())
    print("accepted")
except smtplib.SMTPRecipientsRefused as e:
    code, text = list(e.recipients.values())[0]
    print(code, text.decode())
except smtplib.SMTPResponseException as e:
    print(e.smtp_code, e.smtp_error.decode())
try:
    if s:
        s.quit()
except Exception:
    pass
)";
  std::string cmd = "/usr/bin/python3 " + script.string() + " " + std::to_string(port) + " '" +
                    ca_file + "' " + msg.string() + " 2>&1";
  ClientOutcome out;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return out;
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), pipe)) out.output += buf.data();
  out.status = pclose(pipe);
  return out;
}

class ReceivingMtaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mailsim_mta_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    resolver_ = dns::make_world_resolver(world_.w);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<ReceivingMta> start(std::string persona, std::string virtual_ip, bool tls,
                                      const std::function<void(MtaConfig&)>& tweak = {}) {
    MtaConfig config;
    config.persona = std::move(persona);
    config.now = kNow;
    config.command_timeout = 20s;
    config.client_address = [virtual_ip](const boost::asio::ip::tcp::endpoint&) {
      return virtual_ip;
    };
    if (tls) config.tls = ca_.server_context(personas::persona(config.persona).default_host);
    if (tweak) tweak(config);
    auto mta = std::make_unique<ReceivingMta>(config, *resolver_);
    mta->start();
    return mta;
  }

  std::string ca_file() {
    fs::path p = dir_ / "ca.pem";
    std::ofstream(p) << ca_.ca_cert_pem();
    return p.string();
  }

  GuideWorld world_;
  std::unique_ptr<dns::Resolver> resolver_;
  smtp::TestCa ca_{"mta-test"};
  fs::path dir_;
};

TEST_F(ReceivingMtaTest, SignedMessageOverTlsLandsInGmailInboxWithAuthenticationResults) {
  auto mta = start("gmail", "12.34.56.78", true);
  auto client = send_with_python(mta->port(), dir_, ca_file(), guide_message(&world_.key));
  EXPECT_EQ(client.output, "accepted\n");
  auto ds = mta->wait_for(1, 10s);
  ASSERT_EQ(ds.size(), 1u) << client.output;
  const Delivery& d = ds[0];
  for (const auto& h : d.rules) ADD_FAILURE() << "unexpected rule " << h.id << " " << h.description;
  EXPECT_TRUE(d.accepted());
  EXPECT_EQ(d.disposition, personas::Disposition::inbox);
  EXPECT_EQ(d.persona, "gmail");
  EXPECT_EQ(d.receiver_host, "mx.google.com");
  EXPECT_EQ(d.client_ip, "12.34.56.78");
  EXPECT_EQ(d.helo, "mx.nodeseek.com");
  EXPECT_EQ(d.envelope.mail_from, "admin@nodeseek.com");
  EXPECT_EQ(d.envelope.rcpt_to, std::vector<std::string>{"someone@gmail.com"});
  EXPECT_TRUE(d.tls.used);
  EXPECT_EQ(d.final_reply.code, 250);
  EXPECT_TRUE(d.final_reply.lines.front().ends_with("- gsmtp"));
  ASSERT_TRUE(d.checks.iprev && d.checks.spf && d.checks.dkim && d.checks.dmarc);
  EXPECT_TRUE(d.checks.iprev->is(auth::Result::pass)) << d.checks.iprev->cause;
  EXPECT_TRUE(d.checks.spf->is(auth::Result::pass)) << d.checks.spf->cause;
  EXPECT_TRUE(d.checks.dkim->is(auth::Result::pass)) << d.checks.dkim->cause;
  EXPECT_TRUE(d.checks.dmarc->is(auth::Result::pass)) << d.checks.dmarc->cause;
  EXPECT_TRUE(d.message.starts_with("Authentication-Results: mx.google.com;")) << d.message;
  EXPECT_NE(d.authentication_results.find("dkim=pass"), std::string::npos);
  EXPECT_NE(d.authentication_results.find("spf=pass"), std::string::npos);
  EXPECT_NE(d.message.find("Message-ID: <guide-1@nodeseek.com>"), std::string::npos);
  EXPECT_EQ(mta->mailbox().size(), 1u);
  ASSERT_FALSE(d.replies.empty());
  EXPECT_EQ(d.replies.front().lines.front(), "mx.google.com ESMTP mailsim000001 - gsmtp");
  ASSERT_GE(d.transcript.size(), 2u);
  EXPECT_EQ(d.transcript[1].text, "220 mx.google.com ESMTP mailsim000001 - gsmtp");
  bool saw_starttls = false;
  for (const auto& l : d.transcript) saw_starttls |= l.text.find("STARTTLS") != std::string::npos;
  EXPECT_TRUE(saw_starttls);
  EXPECT_NE(delivery_line(d).find("inbox at accepted"), std::string::npos) << delivery_line(d);
}

TEST_F(ReceivingMtaTest, IpWithoutPtrIsRefusedByGmailWith5725) {
  auto mta = start("gmail", "12.34.56.99", true);
  std::vector<std::string> lines;
  mta->on_delivery([&](const Delivery& d) { lines.push_back(delivery_line(d)); });
  auto client = send_with_python(mta->port(), dir_, ca_file(), guide_message(&world_.key));
  EXPECT_TRUE(
      client.output.starts_with("550 5.7.25 This message was blocked because the sending "
                                "IP address doesn't have a PTR record"))
      << client.output;
  auto ds = mta->wait_for(1, 10s);
  ASSERT_EQ(ds.size(), 1u);
  const Delivery& d = ds[0];
  EXPECT_FALSE(d.accepted());
  EXPECT_EQ(d.ended_at, personas::Stage::rcpt);
  EXPECT_EQ(d.disposition, personas::Disposition::rejected);
  EXPECT_EQ(d.final_reply.code, 550);
  EXPECT_EQ(d.final_reply.enhanced, "5.7.25");
  ASSERT_FALSE(d.rules.empty());
  EXPECT_EQ(d.rules.back().id, "gmail.ptr");
  ASSERT_TRUE(d.checks.iprev);
  EXPECT_FALSE(d.checks.iprev->is(auth::Result::pass));
  EXPECT_TRUE(d.message.empty());
  EXPECT_TRUE(mta->mailbox().empty());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("rejected at rcpt: 550 5.7.25"), std::string::npos) << lines[0];
}

TEST_F(ReceivingMtaTest, UnsignedMessageWithoutTlsScoresAtMailtester) {
  auto mta = start("mailtester", "12.34.56.78", false);
  auto client = send_with_python(mta->port(), dir_, "", guide_message(nullptr));
  EXPECT_EQ(client.output, "accepted\n");
  auto ds = mta->wait_for(1, 10s);
  ASSERT_EQ(ds.size(), 1u);
  const Delivery& d = ds[0];
  EXPECT_TRUE(d.accepted());
  EXPECT_FALSE(d.tls.used);
  bool no_dkim = false;
  for (const auto& h : d.rules) no_dkim |= h.id == "MT_NO_DKIM";
  EXPECT_TRUE(no_dkim);
  // SPF passes (the client is 12.34.56.78), no DKIM: 10 - 1 (MT_NO_DKIM) - 0.5
  // (MT_BODY_TOO_SHORT: "A plain test message." is 21 characters); SPF_PASS's and
  // DMARC_PASS's +0.001 do not offset the tester's own deductions (docs/personas.md).
  EXPECT_NEAR(d.score, 8.5, 1e-9);
  // The From domain's MX was looked up at end of DATA and leads to a real address.
  ASSERT_TRUE(d.checks.mx);
  EXPECT_TRUE(d.checks.mx->is(auth::Result::pass)) << d.checks.mx->cause;
  EXPECT_EQ(d.checks.mx->usable_address, "12.34.56.78");
  EXPECT_EQ(d.disposition, personas::Disposition::inbox);
}

TEST_F(ReceivingMtaTest, SpamhausListedIpIsRefusedByYahooAtConnect) {
  auto mta = start("yahoo", "12.34.56.77", false);
  auto client = send_with_python(mta->port(), dir_, "", guide_message(&world_.key));
  EXPECT_TRUE(
      client.output.starts_with("553 5.7.1 [BL21] Connections will not be accepted from "
                                "12.34.56.77, because the ip is in Spamhaus's list"))
      << client.output;
  auto ds = mta->wait_for(1, 10s);
  ASSERT_EQ(ds.size(), 1u);
  const Delivery& d = ds[0];
  EXPECT_EQ(d.ended_at, personas::Stage::connect);
  EXPECT_EQ(d.disposition, personas::Disposition::rejected);
  EXPECT_EQ(d.final_reply.code, 553);
  ASSERT_TRUE(d.checks.dnsbl);
  ASSERT_EQ(d.checks.dnsbl->listings.size(), 1u) << d.checks.dnsbl->cause;
  EXPECT_EQ(d.checks.dnsbl->listings[0].zone, "zen.spamhaus.org");
  ASSERT_EQ(d.rules.size(), 1u);
  EXPECT_EQ(d.rules[0].id, "yahoo.spamhaus");
  EXPECT_TRUE(d.envelope.mail_from.empty());  // never got that far
}

// Outlook answers a block-listed client at MAIL FROM (providers.md: "reply to MAIL FROM"),
// with the S3150 text when the list is not Spamhaus. Sent with mailsim's own SmtpClient.
TEST_F(ReceivingMtaTest, BlockListedIpIsRefusedByOutlookAtMailFromWithS3150) {
  auto mta = start("outlook", "12.34.56.76", false, [](MtaConfig& c) {
    c.dnsbl_zones = {"zen.spamhaus.org", "bl.spamcop.net"};
  });
  smtp::ClientOptions options;
  options.port = mta->port();
  options.helo_name = "mx.nodeseek.com";
  options.tls = smtp::TlsMode::never;
  options.command_timeout = 20s;
  options.data_timeout = 20s;
  smtp::ClientResult sent = smtp::send_mail(
      options, {"admin@nodeseek.com", {"someone@outlook.com"}, guide_message(&world_.key), {}});
  EXPECT_FALSE(sent.accepted);
  const std::string text =
      "Unfortunately, messages from [12.34.56.76] weren't sent. Please contact your Internet "
      "service provider since part of their network is on our block list (S3150). You can also "
      "refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.";
  EXPECT_EQ(sent.mail.code, 550) << sent.error;
  EXPECT_EQ(sent.mail.enhanced, "5.7.1");
  EXPECT_EQ(sent.mail.lines, std::vector<std::string>{text});
  EXPECT_TRUE(sent.rcpts.empty() || sent.rcpts.front().reply.code != 250);
  auto ds = mta->wait_for(1, 10s);
  ASSERT_EQ(ds.size(), 1u);
  const Delivery& d = ds[0];
  EXPECT_EQ(d.ended_at, personas::Stage::mail);
  EXPECT_EQ(d.disposition, personas::Disposition::rejected);
  EXPECT_EQ(d.final_reply.code, 550);
  EXPECT_EQ(d.final_reply.enhanced, "5.7.1");
  EXPECT_EQ(d.final_reply.lines, std::vector<std::string>{text});
  ASSERT_TRUE(d.checks.dnsbl);
  ASSERT_EQ(d.checks.dnsbl->listings.size(), 1u) << d.checks.dnsbl->cause;
  EXPECT_EQ(d.checks.dnsbl->listings[0].zone, "bl.spamcop.net");
  ASSERT_EQ(d.rules.size(), 1u);
  EXPECT_EQ(d.rules[0].id, "outlook.blocklist");
  EXPECT_EQ(d.rules[0].source,
            "Outlook.com postmaster policies, sendersupport.olc.protection.outlook.com/pm/"
            "policies.aspx");
  EXPECT_TRUE(d.message.empty());
}

// Yahoo defers an unauthenticated message with TSS04 when the failure is temporary: the SPF
// record's server fails (SERVFAIL) and the message is unsigned; or SPF fails for good and the
// DKIM key's server fails. Retrying may authenticate, so no permanent 550 5.7.9.
TEST_F(ReceivingMtaTest, TemporarilyUnauthenticatedMessageIsDeferredByYahooWithTss04) {
  struct Case {
    std::string what, client_ip, fault_name;
    bool signed_message;
    std::string spf, dkim;  // the results the receiver must have seen
  };
  const std::vector<Case> cases = {
      {"SPF SERVFAIL, unsigned", "12.34.56.78", "nodeseek.com", false, "temperror", "none"},
      {"SPF fail, DKIM key SERVFAIL", "12.34.56.79", "s1._domainkey.nodeseek.com", true, "fail",
       "temperror"},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.what);
    world_.w.add_fault({k.fault_name, world::RrType::TXT, world::DnsFaultKind::servfail});
    auto mta = start("yahoo", k.client_ip, false);
    auto client = send_with_python(mta->port(), dir_, "",
                                   guide_message(k.signed_message ? &world_.key : nullptr));
    const std::string text = "[TSS04] Messages from " + k.client_ip +
                             " temporarily deferred due to unexpected volume or user complaints "
                             "- 4.16.55.1; see https://postmaster.yahooinc.com/error-codes";
    EXPECT_EQ(client.output, "421 4.7.0 " + text + "\n");
    auto ds = mta->wait_for(1, 10s);
    ASSERT_EQ(ds.size(), 1u);
    const Delivery& d = ds[0];
    EXPECT_EQ(d.ended_at, personas::Stage::data);
    EXPECT_EQ(d.disposition, personas::Disposition::deferred);
    EXPECT_EQ(d.final_reply.code, 421);
    EXPECT_EQ(d.final_reply.enhanced, "4.7.0");
    EXPECT_EQ(d.final_reply.lines, std::vector<std::string>{text});
    ASSERT_TRUE(d.checks.spf && d.checks.dkim);
    EXPECT_EQ(auth::to_string(d.checks.spf->result), k.spf) << d.checks.spf->cause;
    EXPECT_EQ(auth::to_string(d.checks.dkim->result), k.dkim) << d.checks.dkim->cause;
    ASSERT_FALSE(d.rules.empty());
    EXPECT_EQ(d.rules.back().id, "yahoo.unauthenticated_temporary");
    EXPECT_EQ(d.rules.back().disposition, personas::Disposition::deferred);
    EXPECT_TRUE(d.message.empty());
    world_.w.clear_faults(k.fault_name);
  }
}

// The corporate filter's Delivery names every SpamAssassin rule that fired with its points
// and source; the score is their sum, and the formula is stated. The client has no PTR and
// is outside nodeseek.com's SPF; the message is DKIM-signed (so DMARC passes by DKIM).
TEST_F(ReceivingMtaTest, CorporateDeliveryListsEveryRuleWithPointsAndSource) {
  auto mta = start("corporate", "12.34.56.99", false);
  auto client = send_with_python(mta->port(), dir_, "", guide_message(&world_.key));
  EXPECT_EQ(client.output, "accepted\n");
  auto ds = mta->wait_for(1, 10s);
  ASSERT_EQ(ds.size(), 1u);
  const Delivery& d = ds[0];
  EXPECT_TRUE(d.accepted());
  const std::string sa = "SpamAssassin rules/50_scores.cf (score set 1), spamassassin.apache.org";
  struct Expected {
    std::string id;
    double points;
  };
  const std::vector<Expected> expected = {
      {"RDNS_NONE", 1.274},     {"RCVD_HELO_IP_MISMATCH", 1.186},
      {"SPF_HELO_FAIL", 0.001}, {"SPF_FAIL", 0.919},
      {"DKIM_SIGNED", 0.1},     {"DKIM_VALID", -0.1},
      {"DKIM_VALID_AU", -0.1},  {"DKIM_VALID_EF", -0.1},
      {"DMARC_PASS", -0.001},
  };
  ASSERT_EQ(d.rules.size(), expected.size()) << delivery_line(d);
  double sum = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(expected[i].id);
    EXPECT_EQ(d.rules[i].id, expected[i].id);
    EXPECT_DOUBLE_EQ(d.rules[i].points, expected[i].points);
    EXPECT_EQ(d.rules[i].source, sa);
    EXPECT_FALSE(d.rules[i].description.empty());
    sum += d.rules[i].points;
  }
  EXPECT_NEAR(sum, 3.179, 1e-9);
  EXPECT_DOUBLE_EQ(d.score, sum);
  EXPECT_EQ(d.disposition, personas::Disposition::inbox);  // 3.179 < required_score 5
  EXPECT_EQ(d.score_formula,
            "score = sum of SpamAssassin rule points (50_scores.cf, set 1); score >= 5 "
            "(required_score) -> spam folder; score >= 15 (rspamd's reject action) -> 550 5.7.1");
  EXPECT_NE(delivery_line(d).find("score=3.179"), std::string::npos) << delivery_line(d);
}

TEST_F(ReceivingMtaTest, ParallelSessionsEachGetOneDelivery) {
  MtaConfig config;
  config.persona = "corporate";
  config.now = kNow;
  config.threads = 2;
  config.client_address = [](const boost::asio::ip::tcp::endpoint&) { return "12.34.56.78"; };
  ReceivingMta mta(config, *resolver_);
  mta.start();
  std::atomic<int> callbacks{0};
  mta.on_delivery([&](const Delivery&) { ++callbacks; });
  constexpr int kClients = 4;  // bounded: 2 cores shared by everyone
  std::vector<std::future<ClientOutcome>> clients;
  for (int i = 0; i < kClients; ++i) {
    fs::path sub = dir_ / std::to_string(i);
    fs::create_directories(sub);
    std::string message = guide_message(&world_.key);
    clients.push_back(std::async(std::launch::async, [&mta, sub, message] {
      return send_with_python(mta.port(), sub, "", message);
    }));
  }
  for (auto& c : clients) EXPECT_EQ(c.get().output, "accepted\n");
  auto ds = mta.wait_for(kClients, 20s);
  ASSERT_EQ(ds.size(), static_cast<std::size_t>(kClients));
  std::set<std::uint64_t> sequences;
  for (const auto& d : ds) {
    sequences.insert(d.sequence);
    EXPECT_TRUE(d.accepted());
    // Signed, SPF pass, DMARC pass: the SpamAssassin-style total is negative → inbox.
    EXPECT_LT(d.score, 0) << delivery_line(d);
    EXPECT_EQ(d.disposition, personas::Disposition::inbox);
  }
  EXPECT_EQ(sequences, (std::set<std::uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(callbacks.load(), kClients);
}

// keep_deliveries = false (mailsim receive): every Delivery still reaches the callback,
// numbered and counted, but none is kept — memory stays flat on a long-running receiver.
TEST_F(ReceivingMtaTest, StreamingReceiverKeepsNoDeliveries) {
  MtaConfig config;
  config.persona = "gmail";
  config.now = kNow;
  config.keep_deliveries = false;
  config.client_address = [](const boost::asio::ip::tcp::endpoint&) { return "12.34.56.78"; };
  ReceivingMta mta(config, *resolver_);
  std::mutex mu;
  std::vector<std::uint64_t> sequences;
  std::vector<std::string> stored;
  mta.on_delivery([&](const Delivery& d) {
    std::lock_guard lock(mu);
    sequences.push_back(d.sequence);
    stored.push_back(d.message);
  });
  mta.start();
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(send_with_python(mta.port(), dir_, "", guide_message(&world_.key)).output,
              "accepted\n");
  EXPECT_TRUE(mta.wait_for(3, 20s).empty());
  EXPECT_EQ(mta.delivery_count(), 3u);
  EXPECT_TRUE(mta.deliveries().empty());
  EXPECT_TRUE(mta.mailbox().empty());
  std::lock_guard lock(mu);
  EXPECT_EQ(sequences, (std::vector<std::uint64_t>{1, 2, 3}));
  for (const auto& m : stored) EXPECT_EQ(m.rfind("Authentication-Results: mx.google.com;", 0), 0u) << m;
}

// A second MTA on a port the first holds: start() throws naming the address, and the MTA
// is left stopped (port() says so, stop() and the destructor are harmless), so a caller
// can report the error and retry on another port.
TEST(ReceivingMtaConfig, StartOnAPortInUseThrowsAndLeavesTheMtaStopped) {
  world::World w;
  auto r = dns::make_world_resolver(w);
  MtaConfig c;
  ReceivingMta first(c, *r);
  first.start();
  c.port = first.port();
  ReceivingMta second(c, *r);
  try {
    second.start();
    FAIL() << "a second listener on port " << c.port << " started";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(second.port(), std::logic_error);
  second.stop();
  c.port = 0;
  ReceivingMta third(c, *r);
  third.start();  // the failed one holds nothing
  EXPECT_NE(third.port(), first.port());
}

TEST(ReceivingMtaConfig, RefusesNonLoopbackListenAndUnknownPersona) {
  world::World w;
  auto r = dns::make_world_resolver(w);
  MtaConfig c;
  c.listen_address = "0.0.0.0";
  EXPECT_THROW(ReceivingMta(c, *r), std::invalid_argument);
  c.listen_address = "127.0.0.1";
  c.persona = "hotmail";
  EXPECT_THROW(ReceivingMta(c, *r), std::invalid_argument);
  EXPECT_TRUE(is_loopback_address("127.9.8.7"));
  EXPECT_TRUE(is_loopback_address("::1"));
  EXPECT_FALSE(is_loopback_address("12.34.56.78"));
}

}  // namespace
}  // namespace mailsim::mta
