// The FakeDnsServer over real sockets on 127.0.0.1 ephemeral ports, through our wire
// client, raw datagrams, and Debian's dig.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fmt/core.h>

#include <array>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>

#include <boost/asio/io_context.hpp>

#include "dns_test_util.hpp"
#include "ldns_util.hpp"
#include "mailsim/dns/server.hpp"

namespace mailsim::dns {
namespace {

using test::loopback;
using test::make_query;

using namespace std::chrono_literals;
using world::DnsFaultKind;

const std::string kLongSpf(600, 'x');

world::World sample_world() {
  world::World w;
  w.add_zone("example.com");
  w.add(world::make_a("example.com", "192.0.2.1"));
  w.add(world::make_a("mail.example.com", "192.0.2.25"));
  w.add(world::make_mx("example.com", 10, "mail.example.com"));
  w.add(world::make_txt_strings("example.com", {"v=spf1 ", "mx -all"}));
  w.add(world::make_txt("big.example.com", kLongSpf));  // 3 strings, > 512 octets
  w.add(world::make_cname("www.example.com", "example.com"));
  w.add(world::make_cname("out.example.com", "elsewhere.org"));
  w.add(world::make_txt("sel._domainkey.example.com", "v=DKIM1; p=abc"));
  w.add(world::make_a("sf.example.com", "192.0.2.2"));
  w.add(world::make_a("to.example.com", "192.0.2.3"));
  w.add(world::make_a("rf.example.com", "192.0.2.4"));
  w.add(world::make_a("tc.example.com", "192.0.2.5"));
  w.add_fault({"sf.example.com", std::nullopt, DnsFaultKind::servfail});
  w.add_fault({"to.example.com", std::nullopt, DnsFaultKind::timeout});
  w.add_fault({"rf.example.com", std::nullopt, DnsFaultKind::refused});
  w.add_fault({"tc.example.com", std::nullopt, DnsFaultKind::truncate});
  return w;
}

// Sends one datagram; returns the reply or nullopt after `wait`.
std::optional<std::vector<std::uint8_t>> udp_exchange(std::uint16_t port,
                                                      const std::vector<std::uint8_t>& msg,
                                                      std::chrono::milliseconds wait = 1000ms) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  auto addr = loopback(port);
  ::sendto(fd, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  pollfd p{fd, POLLIN, 0};
  std::optional<std::vector<std::uint8_t>> out;
  if (::poll(&p, 1, static_cast<int>(wait.count())) == 1) {
    std::vector<std::uint8_t> buf(65535);
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n >= 0) {
      buf.resize(static_cast<std::size_t>(n));
      out = std::move(buf);
    }
  }
  ::close(fd);
  return out;
}

int tcp_connect(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  auto addr = loopback(port);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

// True when the peer closed the connection within `wait` (recv returns 0 or an error).
bool closed_by_peer(int fd, std::chrono::milliseconds wait) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(wait.count())) != 1) return false;
  char c;
  return ::recv(fd, &c, 1, 0) <= 0;
}

detail::PktPtr parse(const std::vector<std::uint8_t>& wire) {
  ldns_pkt* p = nullptr;
  EXPECT_EQ(ldns_wire2pkt(&p, wire.data(), wire.size()), LDNS_STATUS_OK);
  return detail::PktPtr(p);
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<FakeDnsServer>(sample_world());
    server_->set_query_log([this](const QueryLogEntry& e) {
      std::lock_guard lock(log_mutex_);
      log_.push_back(e);
    });
    server_->start();
    ASSERT_NE(server_->port(), 0);
    resolver_ = make_wire_resolver("127.0.0.1", server_->port(), 500ms);
  }
  std::unique_ptr<FakeDnsServer> server_;
  std::unique_ptr<Resolver> resolver_;
  std::mutex log_mutex_;
  std::vector<QueryLogEntry> log_;
};

TEST_F(ServerTest, AnswersOverUdpAuthoritatively) {
  auto a = resolver_->query("mail.example.com", RrType::A);
  ASSERT_EQ(a.status, DnsStatus::ok) << a.summary();
  EXPECT_EQ(a.summary(), "A 192.0.2.25");
  EXPECT_FALSE(a.truncated_udp);
  auto mx = resolver_->query("example.com", RrType::MX);
  ASSERT_TRUE(mx.ok());
  EXPECT_EQ(mx.records[0].preference, 10);
  EXPECT_EQ(mx.records[0].value, "mail.example.com");

  auto reply = udp_exchange(server_->port(), make_query("Mail.Example.com", 1, 0xbeef));
  ASSERT_TRUE(reply);
  auto pkt = parse(*reply);
  EXPECT_EQ(ldns_pkt_id(pkt.get()), 0xbeef);
  EXPECT_TRUE(ldns_pkt_aa(pkt.get()));
  EXPECT_FALSE(ldns_pkt_ra(pkt.get()));
  EXPECT_EQ(ldns_pkt_ancount(pkt.get()), 1);
  // The question's spelling of the owner is echoed.
  EXPECT_EQ(detail::rdf_to_string(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_answer(pkt.get()), 0))),
            "Mail.Example.com.");
  auto stats = server_->stats();
  EXPECT_EQ(stats.queries, 3u);
  EXPECT_EQ(stats.udp_queries, 3u);
  std::lock_guard lock(log_mutex_);
  ASSERT_EQ(log_.size(), 3u);
  EXPECT_EQ(log_[0].name, "mail.example.com");
  EXPECT_EQ(log_[0].type, 1);
  EXPECT_EQ(log_[0].rcode, Rcode::noerror);
}

TEST_F(ServerTest, TruncatesOverUdpAndTheClientFallsBackToTcp) {
  // Without EDNS the 600-octet TXT cannot fit 512 octets.
  auto reply = udp_exchange(server_->port(), make_query("big.example.com", 16));
  ASSERT_TRUE(reply);
  EXPECT_LE(reply->size(), kClassicUdpSize);
  auto pkt = parse(*reply);
  EXPECT_TRUE(ldns_pkt_tc(pkt.get()));
  EXPECT_EQ(ldns_pkt_ancount(pkt.get()), 0);

  auto txt = resolver_->query("big.example.com", RrType::TXT);
  ASSERT_TRUE(txt.ok()) << txt.summary();
  EXPECT_TRUE(txt.truncated_udp);
  ASSERT_EQ(txt.records.size(), 1u);
  EXPECT_EQ(txt.records[0].text(), kLongSpf);
  EXPECT_EQ(txt.records[0].strings.size(), 3u);
  EXPECT_GE(server_->stats().tcp_queries, 1u);
  EXPECT_GE(server_->stats().truncated, 2u);

  // With EDNS(0) and a 4096-octet buffer it fits in one datagram, with OPT in the reply.
  auto edns = udp_exchange(server_->port(), make_query("big.example.com", 16, 7, 4096));
  ASSERT_TRUE(edns);
  auto epkt = parse(*edns);
  EXPECT_FALSE(ldns_pkt_tc(epkt.get()));
  EXPECT_EQ(ldns_pkt_ancount(epkt.get()), 1);
  EXPECT_TRUE(ldns_pkt_edns(epkt.get()));
  EXPECT_GT(edns->size(), kClassicUdpSize);
}

TEST_F(ServerTest, NxdomainAndNodataCarryTheSoa) {
  EXPECT_EQ(resolver_->query("nope.example.com", RrType::A).status, DnsStatus::nxdomain);
  EXPECT_EQ(resolver_->query("mail.example.com", RrType::TXT).status, DnsStatus::nodata);
  EXPECT_EQ(resolver_->query("_domainkey.example.com", RrType::TXT).status, DnsStatus::nodata);
  for (auto [name, rcode] : {std::pair{"nope.example.com", LDNS_RCODE_NXDOMAIN},
                             std::pair{"_domainkey.example.com", LDNS_RCODE_NOERROR}}) {
    auto reply = udp_exchange(server_->port(), make_query(name, 16));
    ASSERT_TRUE(reply);
    auto pkt = parse(*reply);
    EXPECT_EQ(ldns_pkt_get_rcode(pkt.get()), rcode) << name;
    EXPECT_TRUE(ldns_pkt_aa(pkt.get()));
    EXPECT_EQ(ldns_pkt_ancount(pkt.get()), 0);
    ASSERT_EQ(ldns_pkt_nscount(pkt.get()), 1) << name;
    const ldns_rr* soa = ldns_rr_list_rr(ldns_pkt_authority(pkt.get()), 0);
    EXPECT_EQ(ldns_rr_get_type(soa), LDNS_RR_TYPE_SOA);
    EXPECT_EQ(detail::rdf_to_string(ldns_rr_owner(soa)), "example.com.");
    EXPECT_EQ(ldns_rr_ttl(soa), 300u);  // min(SOA TTL 3600, MINIMUM 300), RFC 2308 §3
  }
}

TEST_F(ServerTest, CnameChainsInsideAndOutsideTheWorld) {
  auto a = resolver_->query("www.example.com", RrType::A);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.records.size(), 2u);
  EXPECT_EQ(a.of_type(RrType::A)[0].value, "192.0.2.1");
  // The target is outside: the server stops, the client asks and is refused.
  auto out = resolver_->query("out.example.com", RrType::A);
  EXPECT_EQ(out.status, DnsStatus::refused);
  EXPECT_EQ(out.records.size(), 1u);
}

TEST_F(ServerTest, EveryFault) {
  EXPECT_EQ(resolver_->query("sf.example.com", RrType::A).status, DnsStatus::servfail);
  EXPECT_EQ(resolver_->query("rf.example.com", RrType::A).status, DnsStatus::refused);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(resolver_->query("to.example.com", RrType::A).status, DnsStatus::timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 450ms);
  auto tc = resolver_->query("tc.example.com", RrType::A);
  ASSERT_TRUE(tc.ok());
  EXPECT_TRUE(tc.truncated_udp);  // fits in 512 octets, truncated anyway, answered via TCP
  EXPECT_EQ(tc.records[0].value, "192.0.2.5");
  EXPECT_GE(server_->stats().dropped, 1u);
  // The in-process resolver over the served world agrees.
  auto local = server_->resolver();
  EXPECT_EQ(local->query("sf.example.com", RrType::A).status, DnsStatus::servfail);
  EXPECT_EQ(local->query("to.example.com", RrType::A).status, DnsStatus::timeout);
}

TEST_F(ServerTest, RefusesNamesOutsideTheWorldWithoutRecursing) {
  auto r = resolver_->query("gmail.com", RrType::MX);
  EXPECT_EQ(r.status, DnsStatus::refused);
  auto reply = udp_exchange(server_->port(), make_query("www.google.com", 1));
  ASSERT_TRUE(reply);
  auto pkt = parse(*reply);
  EXPECT_EQ(ldns_pkt_get_rcode(pkt.get()), LDNS_RCODE_REFUSED);
  EXPECT_FALSE(ldns_pkt_aa(pkt.get()));
  EXPECT_FALSE(ldns_pkt_ra(pkt.get()));
  EXPECT_EQ(ldns_pkt_ancount(pkt.get()) + ldns_pkt_nscount(pkt.get()), 0);
}

TEST_F(ServerTest, MultiStringTxtGoesOnTheWireAsPublished) {
  auto reply = udp_exchange(server_->port(), make_query("example.com", 16));
  ASSERT_TRUE(reply);
  // RDATA of the TXT: <7>"v=spf1 " <7>"mx -all", RDLENGTH 16.
  const std::string expected = std::string("\x00\x10\x07v=spf1 \x07mx -all", 18);
  std::string bytes(reply->begin(), reply->end());
  EXPECT_NE(bytes.find(expected), std::string::npos);
  auto txt = resolver_->query("example.com", RrType::TXT);
  ASSERT_TRUE(txt.ok());
  EXPECT_EQ(txt.records[0].strings, (std::vector<std::string>{"v=spf1 ", "mx -all"}));
}

TEST_F(ServerTest, MalformedPacketsGetFormerrOrAreDroppedAndServingGoesOn) {
  // Garbage shorter than a header: dropped.
  EXPECT_FALSE(udp_exchange(server_->port(), {1, 2, 3, 4, 5}, 300ms));
  // A readable header with a question that runs off the end: FORMERR, ID echoed.
  std::vector<std::uint8_t> cut = make_query("mail.example.com", 1, 0x4242);
  cut.resize(20);
  auto formerr = udp_exchange(server_->port(), cut);
  ASSERT_TRUE(formerr);
  ASSERT_GE(formerr->size(), kDnsHeaderSize);
  EXPECT_EQ((*formerr)[0], 0x42);
  EXPECT_EQ((*formerr)[1], 0x42);
  EXPECT_EQ((*formerr)[3] & 0x0f, 1);  // FORMERR
  EXPECT_TRUE((*formerr)[2] & 0x80);   // QR
  // QDCOUNT = 5 with one question: FORMERR.
  auto five = make_query("mail.example.com", 1, 0x5555);
  five[5] = 5;
  auto r5 = udp_exchange(server_->port(), five);
  ASSERT_TRUE(r5);
  EXPECT_EQ((*r5)[3] & 0x0f, 1);
  // A message that is itself a response (QR=1): never answered.
  auto response = make_query("mail.example.com", 1);
  response[2] |= 0x80;
  EXPECT_FALSE(udp_exchange(server_->port(), response, 300ms));
  // Random garbage after a valid-looking header, many times.
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::vector<std::uint8_t> junk(12 + rng() % 60);
    for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
    junk[2] &= 0x7f;
    udp_exchange(server_->port(), junk, 5ms);
  }
  // A huge TCP length prefix: the server closes the connection instead of waiting for it.
  int fd = tcp_connect(server_->port());
  std::uint8_t huge[4] = {0xff, 0xff, 0x00, 0x01};
  ASSERT_EQ(::send(fd, huge, sizeof huge, 0), 4);
  EXPECT_TRUE(closed_by_peer(fd, 2000ms));
  ::close(fd);
  // Still serving, on both transports.
  EXPECT_TRUE(resolver_->query("mail.example.com", RrType::A).ok());
  EXPECT_TRUE(resolver_->query("big.example.com", RrType::TXT).ok());
  EXPECT_GE(server_->stats().formerr, 2u);
}

TEST_F(ServerTest, SeesWorldUpdatesBetweenQueries) {
  EXPECT_EQ(resolver_->query("s1._domainkey.example.com", RrType::TXT).status,
            DnsStatus::nxdomain);
  server_->update([](world::World& w) {
    w.add(world::make_txt("s1._domainkey.example.com", "v=DKIM1; k=rsa; p=MIIB"));
  });
  auto dkim = resolver_->query("s1._domainkey.example.com", RrType::TXT);
  ASSERT_TRUE(dkim.ok());
  EXPECT_EQ(dkim.records[0].text(), "v=DKIM1; k=rsa; p=MIIB");
}

TEST(FakeDnsServer, CapsConcurrentTcpConnectionsAndTimesOutIdleOnes) {
  ServerOptions options;
  options.max_tcp_connections = 2;
  options.tcp_idle_timeout = 300ms;
  FakeDnsServer server(sample_world(), options);
  server.start();
  int a = tcp_connect(server.port());
  int b = tcp_connect(server.port());
  // Give the server time to accept the first two before the third arrives.
  for (int i = 0; i < 50 && server.stats().tcp_connections < 2; ++i)
    std::this_thread::sleep_for(10ms);
  int c = tcp_connect(server.port());
  EXPECT_TRUE(closed_by_peer(c, 1000ms));
  EXPECT_EQ(server.stats().tcp_rejected, 1u);
  // The idle ones are closed after the idle timeout.
  EXPECT_TRUE(closed_by_peer(a, 2000ms));
  EXPECT_TRUE(closed_by_peer(b, 2000ms));
  ::close(a);
  ::close(b);
  ::close(c);
  // Room again: a TCP query goes through.
  for (int i = 0; i < 50; ++i) std::this_thread::sleep_for(10ms);
  auto fd = tcp_connect(server.port());
  auto q = make_query("mail.example.com", 1, 99);
  std::vector<std::uint8_t> framed{static_cast<std::uint8_t>(q.size() >> 8),
                                   static_cast<std::uint8_t>(q.size())};
  framed.insert(framed.end(), q.begin(), q.end());
  ASSERT_EQ(::send(fd, framed.data(), framed.size(), 0), static_cast<ssize_t>(framed.size()));
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1);
  std::uint8_t buf[512];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  ASSERT_GT(n, 14);
  EXPECT_EQ(buf[2], 99 >> 8);
  EXPECT_EQ(buf[3], 99);
  ::close(fd);
}

TEST(FakeDnsServer, RunsOnTheCallersIoContext) {
  boost::asio::io_context io;
  FakeDnsServer server(sample_world());
  server.start(io);
  std::thread runner([&] { io.run(); });
  auto r = make_wire_resolver("127.0.0.1", server.port(), 1000ms);
  EXPECT_TRUE(r->query("example.com", RrType::A).ok());
  server.stop();
  runner.join();  // the io_context runs out of work once the sockets are closed
  EXPECT_EQ(server.stats().queries, 1u);
}

TEST(FakeDnsServer, RefusesToBindOrDialOutsideLoopback) {
  ServerOptions options;
  options.address = "192.0.2.1";
  FakeDnsServer server(sample_world(), options);
  EXPECT_THROW(server.start(), std::invalid_argument);
  EXPECT_THROW(make_wire_resolver("8.8.8.8", 53), std::invalid_argument);
  EXPECT_TRUE(is_loopback_address("127.3.2.1"));
  EXPECT_TRUE(is_loopback_address("::1"));
  EXPECT_FALSE(is_loopback_address("10.0.0.1"));
}

std::string run(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  ::pclose(p);
  return out;
}

TEST_F(ServerTest, DebianDigAgrees) {
  if (run("command -v dig").empty()) GTEST_SKIP() << "dig is not installed (apt-get install bind9-dnsutils)";
  std::string base = "dig @127.0.0.1 -p " + std::to_string(server_->port()) +
                     " +norecurse +time=2 +tries=1 ";
  std::string txt = run(base + "example.com TXT");
  EXPECT_NE(txt.find("status: NOERROR"), std::string::npos) << txt;
  EXPECT_NE(txt.find(" aa"), std::string::npos) << txt;
  EXPECT_NE(txt.find("\"v=spf1 \" \"mx -all\""), std::string::npos) << txt;
  std::string nx = run(base + "nope.example.com A");
  EXPECT_NE(nx.find("status: NXDOMAIN"), std::string::npos) << nx;
  EXPECT_NE(nx.find("SOA"), std::string::npos) << nx;
  std::string refused = run(base + "gmail.com MX");
  EXPECT_NE(refused.find("status: REFUSED"), std::string::npos) << refused;
  // dig retries over TCP by itself when it sees TC=1.
  std::string big = run(base + "+noedns big.example.com TXT");
  EXPECT_NE(big.find("Truncated, retrying in TCP mode"), std::string::npos) << big;
  EXPECT_NE(big.find(kLongSpf.substr(0, 255)), std::string::npos) << big;
  std::string tcp = run(base + "+tcp mail.example.com A");
  EXPECT_NE(tcp.find("192.0.2.25"), std::string::npos) << tcp;
}

// Names with bytes presentation text would escape or split: two spaces (the OpenSPF
// macro-mania-in-domain case, RFC 7208 §7.3), a dot inside a label ("\." in world names),
// a backslash ("\\"), a tab and non-ASCII (UTF-8 é, a raw 0xff). Each goes through the
// real server and wire client and must come back byte for byte, as owner and as target.
TEST(FakeDnsServer, CarriesNamesWithSpecialBytesByteExact) {
  const std::vector<std::string> names = {
      "macro%percent  space%20url-space.example.com",
      "a\\.b.example.com",
      "back\\\\slash.example.com",
      "tab\there.example.com",
      "caf\xc3\xa9.example.com",
      std::string("raw") + '\xff' + ".example.com",
  };
  world::World w;
  w.add_zone("example.com");
  for (std::size_t i = 0; i < names.size(); ++i)
    w.add(world::make_a(names[i], fmt::format("192.0.2.{}", 100 + i)));
  w.add(world::make_cname("alias.example.com", names[0]));
  w.add(world::make_mx("example.com", 5, names[1]));
  w.add(world::make_txt(names[2], "v=spf1 -all"));
  FakeDnsServer server(w);
  std::vector<std::string> logged;
  std::mutex log_mutex;
  server.set_query_log([&](const QueryLogEntry& e) {
    std::lock_guard lock(log_mutex);
    logged.push_back(e.name);
  });
  server.start();
  auto resolver = make_wire_resolver("127.0.0.1", server.port(), 1000ms);

  for (std::size_t i = 0; i < names.size(); ++i) {
    Answer a = resolver->query(names[i], RrType::A);
    ASSERT_EQ(a.status, DnsStatus::ok) << names[i] << ": " << a.summary();
    ASSERT_EQ(a.records.size(), 1u) << names[i];
    EXPECT_EQ(a.records[0].name, names[i]);
    EXPECT_EQ(a.records[0].value, fmt::format("192.0.2.{}", 100 + i));
  }
  // The log may be written just after the reply leaves: give it a bounded moment.
  for (int i = 0; i < 100; ++i) {
    {
      std::lock_guard lock(log_mutex);
      if (logged.size() >= names.size()) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  {
    std::lock_guard lock(log_mutex);
    ASSERT_GE(logged.size(), names.size());
    for (std::size_t i = 0; i < names.size(); ++i) EXPECT_EQ(logged[i], names[i]);
  }
  // One space instead of two is another name: exact, not approximately equal.
  EXPECT_EQ(resolver->query("macro%percent space%20url-space.example.com", RrType::A).status,
            DnsStatus::nxdomain);
  // "a\.b" is one label; "a.b" is two, and does not exist.
  EXPECT_EQ(resolver->query("a.b.example.com", RrType::A).status, DnsStatus::nxdomain);

  // Names as rdata: a CNAME target and an MX exchange.
  Answer alias = resolver->query("alias.example.com", RrType::A);
  ASSERT_EQ(alias.status, DnsStatus::ok) << alias.summary();
  ASSERT_EQ(alias.records.size(), 2u) << alias.summary();
  EXPECT_EQ(alias.records[0].value, names[0]);
  EXPECT_EQ(alias.records[1].name, names[0]);
  Answer mx = resolver->query("example.com", RrType::MX);
  ASSERT_EQ(mx.status, DnsStatus::ok) << mx.summary();
  ASSERT_EQ(mx.records.size(), 1u);
  EXPECT_EQ(mx.records[0].value, names[1]);
  Answer txt = resolver->query(names[2], RrType::TXT);
  ASSERT_EQ(txt.status, DnsStatus::ok) << txt.summary();
  EXPECT_EQ(txt.records.at(0).name, names[2]);
  server.stop();
}

TEST(WireNames, LabelsAreBuiltFromRawBytes) {
  std::string error;
  // "a\.b" is one 3-octet label holding a dot; the space stays a raw 0x20 (RFC 1035 §3.1).
  auto rdf = detail::dname_from_name("a\\.b.x y", &error);
  ASSERT_TRUE(rdf) << error;
  const std::vector<std::uint8_t> expected = {3, 'a', '.', 'b', 3, 'x', ' ', 'y', 0};
  ASSERT_EQ(ldns_rdf_size(rdf.get()), expected.size());
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), ldns_rdf_data(rdf.get())));
  EXPECT_EQ(detail::name_from_dname(rdf.get()), "a\\.b.x y");
  // Root, trailing dot, and the limits of RFC 1035 §2.3.4.
  EXPECT_EQ(detail::name_from_dname(detail::dname_from_name("", &error).get()), "");
  EXPECT_EQ(detail::name_from_dname(detail::dname_from_name("x.y.", &error).get()), "x.y");
  EXPECT_FALSE(detail::dname_from_name("x..y", &error));
  EXPECT_NE(error.find("empty label"), std::string::npos) << error;
  EXPECT_FALSE(detail::dname_from_name(std::string(64, 'a') + ".com", &error));
  EXPECT_NE(error.find("63"), std::string::npos) << error;
  std::string long_name;
  for (int i = 0; i < 5; ++i) long_name += std::string(60, 'a') + ".";
  EXPECT_FALSE(detail::dname_from_name(long_name + "com", &error));
  EXPECT_NE(error.find("255"), std::string::npos) << error;
}

}  // namespace
}  // namespace mailsim::dns
