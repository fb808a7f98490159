// The response cache (server_cache.hpp) and the UDP workers: a cached reply must be the
// reply handle_wire_query would give, octet for octet, for any ID and any spelling of the
// name; update() must change the very next answer; several clients at once get their own
// replies, counted exactly.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "dns_test_util.hpp"
#include "ldns_util.hpp"
#include "mailsim/dns/server.hpp"
#include "server_cache.hpp"

namespace mailsim::dns {
namespace {

using test::loopback;
using test::make_query;

using namespace std::chrono_literals;
using world::DnsFaultKind;

world::World cache_world() {
  world::World w;
  w.add_zone("example.com");
  w.add(world::make_a("example.com", "192.0.2.1"));
  w.add(world::make_a("mail.example.com", "192.0.2.25"));
  w.add(world::make_mx("example.com", 10, "mail.example.com"));
  w.add(world::make_txt("example.com", "v=spf1 mx -all"));
  w.add(world::make_txt("big.example.com", std::string(600, 'x')));
  w.add(world::make_cname("www.example.com", "example.com"));
  w.add(world::make_cname("out.example.com", "elsewhere.org"));
  w.add(world::make_cname("loop.example.com", "loop.example.com"));
  w.add(world::make_a("sf.example.com", "192.0.2.2"));
  w.add(world::make_a("to.example.com", "192.0.2.3"));
  w.add(world::make_a("tc.example.com", "192.0.2.5"));
  w.add_fault({"sf.example.com", std::nullopt, DnsFaultKind::servfail});
  w.add_fault({"to.example.com", std::nullopt, DnsFaultKind::timeout});
  w.add_fault({"tc.example.com", std::nullopt, DnsFaultKind::truncate});
  return w;
}

// The same name with each letter's case drawn from `rng` (DNS 0x20).
std::string random_case(const std::string& name, std::mt19937& rng) {
  std::string out = name;
  for (char& c : out)
    if (std::isalpha(static_cast<unsigned char>(c)))
      c = static_cast<char>(rng() % 2 ? std::toupper(c) : std::tolower(c));
  return out;
}

// The question name's octets in a reply, as sent (no decompression needed: it is first).
std::string question_name(const std::vector<std::uint8_t>& reply) {
  std::string out;
  std::size_t at = kDnsHeaderSize;
  while (at < reply.size() && reply[at] != 0) {
    std::size_t n = reply[at];
    if (!out.empty()) out += '.';
    out.append(reinterpret_cast<const char*>(reply.data()) + at + 1, n);
    at += n + 1;
  }
  return out;
}

struct Case {
  std::string name;
  std::uint16_t type;
  std::uint16_t edns;
  Transport transport;
};

const std::vector<Case> kCases = {
    {"mail.example.com", 1, 0, Transport::udp},    {"example.com", 15, 0, Transport::udp},
    {"example.com", 16, 1232, Transport::udp},     {"www.example.com", 1, 0, Transport::udp},
    {"out.example.com", 1, 0, Transport::udp},     {"loop.example.com", 1, 0, Transport::udp},
    {"nope.example.com", 1, 0, Transport::udp},    {"mail.example.com", 16, 0, Transport::udp},
    {"big.example.com", 16, 0, Transport::udp},    {"big.example.com", 16, 0, Transport::tcp},
    {"big.example.com", 16, 4096, Transport::udp}, {"sf.example.com", 1, 0, Transport::udp},
    {"to.example.com", 1, 0, Transport::udp},      {"tc.example.com", 1, 0, Transport::udp},
    {"tc.example.com", 1, 0, Transport::tcp},      {"gmail.com", 15, 0, Transport::udp},
    {"example.com", 252, 0, Transport::tcp},       {"example.com", 255, 0, Transport::udp},
};

// The property the whole cache rests on: for every kind of answer (data, CNAME chains
// in and out of the world and looping, NXDOMAIN/NODATA with SOA, TC over UDP, every
// fault, REFUSED, EDNS), a reply rendered from an entry made with one ID and spelling is
// exactly what handle_wire_query gives for another ID and spelling.
TEST(ResponseCache, RenderedRepliesEqualFreshOnesForAnyIdAndSpelling) {
  const world::World w = cache_world();
  std::mt19937 rng(20);
  for (const auto& c : kCases) {
    auto first = make_query(c.name, c.type, 0x0101, c.edns);
    auto shape = detail::shape_of(first);
    ASSERT_TRUE(shape) << c.name;
    auto entry = detail::make_entry(first, *shape, handle_wire_query(w, first, c.transport),
                                    handle_wire_query(w, detail::flip_name_case(first, *shape),
                                                      c.transport));
    EXPECT_TRUE(entry.any_spelling) << c.name << " " << c.type;
    for (int i = 0; i < 20; ++i) {
      auto id = static_cast<std::uint16_t>(rng());
      auto query = make_query(random_case(c.name, rng), c.type, id, c.edns);
      auto qshape = detail::shape_of(query);
      ASSERT_TRUE(qshape);
      WireResult fresh = handle_wire_query(w, query, c.transport);
      std::vector<std::uint8_t> cached;
      bool answered = detail::render(entry, query, *qshape, cached);
      ASSERT_EQ(answered, fresh.response.has_value()) << c.name;
      if (!answered) continue;
      EXPECT_EQ(cached, *fresh.response) << c.name << " " << c.type << " id " << id;
      EXPECT_EQ(entry.rcode, fresh.rcode);
      EXPECT_EQ(entry.truncated, fresh.truncated);
      EXPECT_EQ(entry.qname, fresh.qname);
    }
  }
}

TEST(ResponseCache, KeysIgnoreIdAndCaseButNotTypeEdnsOrTransport) {
  auto key_of = [](const std::vector<std::uint8_t>& q, Transport t) {
    auto shape = detail::shape_of(q);
    EXPECT_TRUE(shape);
    std::string key;
    detail::make_key(q, *shape, t, key);
    return key;
  };
  auto base = key_of(make_query("mail.example.com", 1, 1), Transport::udp);
  EXPECT_EQ(base, key_of(make_query("MAIL.Example.COM", 1, 999), Transport::udp));
  EXPECT_NE(base, key_of(make_query("mail.example.com", 28, 1), Transport::udp));
  EXPECT_NE(base, key_of(make_query("mail.example.com", 1, 1, 1232), Transport::udp));
  EXPECT_NE(base, key_of(make_query("mail.example.com", 1, 1), Transport::tcp));
  EXPECT_NE(base, key_of(make_query("mail.example.org", 1, 1), Transport::udp));
}

TEST(ResponseCache, OnlyPlainQueriesAreShaped) {
  auto q = make_query("mail.example.com", 1, 7);
  EXPECT_TRUE(detail::shape_of(q));
  EXPECT_EQ(detail::shape_of(q)->name_length, 18u);  // 4 mail 7 example 3 com 0
  auto response = q;
  response[2] |= 0x80;  // QR=1
  EXPECT_FALSE(detail::shape_of(response));
  auto pointer = q;
  pointer[12] = 0xc0;  // a compression pointer in the question
  EXPECT_FALSE(detail::shape_of(pointer));
  auto cut = q;
  cut.resize(q.size() - 3);  // QCLASS missing
  EXPECT_FALSE(detail::shape_of(cut));
  EXPECT_FALSE(detail::shape_of(std::vector<std::uint8_t>(11, 0)));
  EXPECT_FALSE(detail::shape_of(std::vector<std::uint8_t>(detail::kCacheMaxQuerySize + 1, 0)));
}

TEST(ResponseCache, ANewGenerationEmptiesItAndStaleEntriesAreRefused) {
  const world::World w = cache_world();
  auto q = make_query("mail.example.com", 1, 1);
  auto shape = *detail::shape_of(q);
  std::string key;
  detail::make_key(q, shape, Transport::udp, key);
  auto entry = [&] {
    return detail::make_entry(q, shape, handle_wire_query(w, q, Transport::udp),
                              handle_wire_query(w, detail::flip_name_case(q, shape),
                                                Transport::udp));
  };
  detail::ResponseCache cache;
  cache.store(key, entry(), 3);
  EXPECT_NE(cache.find(key, q, shape), nullptr);
  cache.sync(3);
  EXPECT_NE(cache.find(key, q, shape), nullptr);
  cache.sync(4);
  EXPECT_EQ(cache.find(key, q, shape), nullptr);
  cache.store(key, entry(), 3);  // computed before the world changed: not kept
  EXPECT_EQ(cache.find(key, q, shape), nullptr);
  EXPECT_EQ(cache.size(), 0u);
}

// --- over sockets -------------------------------------------------------------------

// A UDP client socket with a receive timeout; one exchange at a time.
class UdpClient {
 public:
  explicit UdpClient(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_DGRAM, 0)) {
    auto addr = loopback(port);
    ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  }
  ~UdpClient() { ::close(fd_); }
  std::optional<std::vector<std::uint8_t>> exchange(const std::vector<std::uint8_t>& q,
                                                    std::chrono::milliseconds wait = 1000ms) {
    ::send(fd_, q.data(), q.size(), 0);
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) != 1) return std::nullopt;
    std::vector<std::uint8_t> buf(65535);
    ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) return std::nullopt;
    buf.resize(static_cast<std::size_t>(n));
    return buf;
  }

 private:
  int fd_;
};

std::string first_a(const std::vector<std::uint8_t>& reply) {
  ldns_pkt* p = nullptr;
  if (ldns_wire2pkt(&p, reply.data(), reply.size()) != LDNS_STATUS_OK) return "unparsable";
  detail::PktPtr pkt(p);
  for (std::size_t i = 0; i < ldns_rr_list_rr_count(ldns_pkt_answer(p)); ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(ldns_pkt_answer(p), i);
    if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_A) return detail::rdf_to_string(ldns_rr_rdf(rr, 0));
  }
  return "";
}

// One worker where the test counts hits: each worker keeps its own cache.
ServerOptions one_worker() {
  ServerOptions options;
  options.udp_threads = 1;
  return options;
}

TEST(CachedServer, AnUpdateChangesTheNextAnswer) {
  FakeDnsServer server(cache_world(), one_worker());
  server.start();
  UdpClient client(server.port());
  for (std::uint16_t id = 1; id <= 3; ++id) {
    auto r = client.exchange(make_query("mail.example.com", 1, id));
    ASSERT_TRUE(r);
    EXPECT_EQ(first_a(*r), "192.0.2.25");
  }
  EXPECT_EQ(server.stats().cache_misses, 1u);
  EXPECT_EQ(server.stats().cache_hits, 2u);
  server.update([](world::World& w) {
    w.replace(world::make_a("mail.example.com", "192.0.2.99"));
  });
  auto after = client.exchange(make_query("mail.example.com", 1, 4));
  ASSERT_TRUE(after);
  EXPECT_EQ(first_a(*after), "192.0.2.99");
  // A fault added by update() applies at once too, and a cached drop stays a drop.
  server.update([](world::World& w) {
    w.add_fault({"mail.example.com", std::nullopt, DnsFaultKind::timeout});
  });
  EXPECT_FALSE(client.exchange(make_query("mail.example.com", 1, 5), 300ms));
  EXPECT_FALSE(client.exchange(make_query("mail.example.com", 1, 6), 300ms));
  auto stats = server.stats();
  EXPECT_EQ(stats.queries, 6u);
  EXPECT_EQ(stats.dropped, 2u);
  EXPECT_EQ(stats.cache_hits, 3u);  // the second drop came from the cache
}

TEST(CachedServer, EchoesIdsAndTheQuestionAsAsked) {
  FakeDnsServer server(cache_world(), one_worker());
  server.start();
  UdpClient client(server.port());
  ASSERT_TRUE(client.exchange(make_query("www.example.com", 1, 1)));  // fills the cache
  std::mt19937 rng(0x20);
  for (int i = 0; i < 50; ++i) {
    std::string spelling = random_case("www.example.com", rng);
    auto id = static_cast<std::uint16_t>(rng());
    auto r = client.exchange(make_query(spelling, 1, id));
    ASSERT_TRUE(r);
    EXPECT_EQ(((*r)[0] << 8) | (*r)[1], id);
    EXPECT_EQ(question_name(*r), spelling);
    ldns_pkt* p = nullptr;
    ASSERT_EQ(ldns_wire2pkt(&p, r->data(), r->size()), LDNS_STATUS_OK);
    detail::PktPtr pkt(p);
    // The CNAME's owner is the question as asked. (The target's owner is compressed by
    // ldns into a pointer at the question's suffix, so it reads in the question's case
    // too — exactly as an uncached reply does; the render test above checks the octets.)
    ASSERT_EQ(ldns_pkt_ancount(p), 2);
    EXPECT_EQ(detail::rdf_to_string(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_answer(p), 0))),
              spelling + ".");
    EXPECT_EQ(world::canonical_name(detail::rdf_to_string(
                  ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_answer(p), 1)))),
              "example.com");
    EXPECT_EQ(*r, *handle_wire_query(cache_world(), make_query(spelling, 1, id),
                                     Transport::udp).response);
  }
  EXPECT_GE(server.stats().cache_hits, 50u);
}

TEST(CachedServer, FaultsStayExactWhenRepeated) {
  FakeDnsServer server(cache_world(), one_worker());
  server.start();
  UdpClient client(server.port());
  for (int round = 0; round < 3; ++round) {
    auto sf = client.exchange(make_query("sf.example.com", 1, 10));
    ASSERT_TRUE(sf);
    EXPECT_EQ((*sf)[3] & 0x0f, 2);  // SERVFAIL
    auto tc = client.exchange(make_query("tc.example.com", 1, 11));
    ASSERT_TRUE(tc);
    EXPECT_TRUE((*tc)[2] & 0x02);  // TC
    auto refused = client.exchange(make_query("gmail.com", 15, 12));
    ASSERT_TRUE(refused);
    EXPECT_EQ((*refused)[3] & 0x0f, 5);
    EXPECT_FALSE(client.exchange(make_query("to.example.com", 1, 13), 200ms));
  }
  auto stats = server.stats();
  EXPECT_EQ(stats.queries, 12u);
  EXPECT_EQ(stats.dropped, 3u);
  EXPECT_EQ(stats.truncated, 3u);
  EXPECT_EQ(stats.cache_hits, 8u);
  EXPECT_EQ(stats.cache_misses, 4u);
}

TEST(CachedServer, WithoutTheCacheEveryQueryGoesThroughLdns) {
  ServerOptions options;
  options.response_cache = false;
  FakeDnsServer server(cache_world(), options);
  server.start();
  UdpClient client(server.port());
  for (std::uint16_t id = 0; id < 3; ++id) {
    auto r = client.exchange(make_query("Mail.example.com", 1, id));
    ASSERT_TRUE(r);
    EXPECT_EQ(question_name(*r), "Mail.example.com");
  }
  EXPECT_EQ(server.stats().cache_hits + server.stats().cache_misses, 0u);
  EXPECT_EQ(server.stats().queries, 3u);
}

// Several clients at once, several workers, a world changing underneath: every reply
// carries its own query's ID and spelling and equals handle_wire_query's for the world as
// it was before or after the change; after the last update() all see the last world;
// stats and the log count every query once. Bounded: 4 × 400 queries, 1 s waits.
TEST(CachedServer, ConcurrentClientsGetTheirOwnRepliesCountedOnce) {
  ServerOptions options;
  options.udp_threads = 3;
  world::World before = cache_world();
  world::World after = before;
  after.replace(world::make_a("mail.example.com", "192.0.2.77"));
  FakeDnsServer server(before, options);
  std::atomic<std::uint64_t> logged{0};
  server.set_query_log([&](const QueryLogEntry&) { ++logged; });
  server.start();

  const std::vector<std::pair<std::string, std::uint16_t>> questions = {
      {"mail.example.com", 1}, {"example.com", 15}, {"www.example.com", 1},
      {"nope.example.com", 1}, {"sf.example.com", 1}, {"tc.example.com", 1}};
  constexpr int kClients = 4, kPerClient = 400;
  std::atomic<int> mismatches{0}, lost{0};
  std::atomic<bool> updated{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      UdpClient client(server.port());
      std::mt19937 rng(static_cast<unsigned>(c));
      for (int i = 0; i < kPerClient; ++i) {
        const auto& [name, type] = questions[rng() % questions.size()];
        auto query = make_query(random_case(name, rng), type, static_cast<std::uint16_t>(rng()));
        bool was_updated = updated.load();
        auto reply = client.exchange(query);
        if (!reply) {
          ++lost;
          continue;
        }
        WireResult fresh_after = handle_wire_query(after, query, Transport::udp);
        WireResult fresh_before = handle_wire_query(before, query, Transport::udp);
        bool ok = (fresh_after.response && *reply == *fresh_after.response) ||
                  (!was_updated && fresh_before.response && *reply == *fresh_before.response);
        if (!ok) ++mismatches;
      }
    });
  }
  std::this_thread::sleep_for(20ms);
  server.update([](world::World& w) {
    w.replace(world::make_a("mail.example.com", "192.0.2.77"));
  });
  updated = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(lost.load(), 0);
  auto stats = server.stats();
  EXPECT_EQ(stats.queries, static_cast<std::uint64_t>(kClients * kPerClient));
  EXPECT_EQ(stats.udp_queries, stats.queries);
  EXPECT_EQ(logged.load(), stats.queries);
  EXPECT_EQ(stats.cache_hits + stats.cache_misses, stats.queries);
  EXPECT_GT(stats.cache_hits, stats.cache_misses);
  UdpClient last(server.port());
  auto r = last.exchange(make_query("MAIL.example.com", 1, 42));
  ASSERT_TRUE(r);
  EXPECT_EQ(first_a(*r), "192.0.2.77");
}

TEST(CachedServer, StopsPromptlyWithIdleWorkers) {
  ServerOptions options;
  options.udp_threads = 4;
  FakeDnsServer server(cache_world(), options);
  server.start();
  auto t0 = std::chrono::steady_clock::now();
  server.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_FALSE(server.running());
  // And it can serve again on a fresh start.
  server.start();
  UdpClient client(server.port());
  EXPECT_TRUE(client.exchange(make_query("example.com", 1, 1)));
}

}  // namespace
}  // namespace mailsim::dns
